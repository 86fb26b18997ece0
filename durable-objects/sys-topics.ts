// $SYS/broker/... topics: per tenant, read-only for clients, published by the tenant object while wanted.

export interface BrokerStatistics {
  version: string;
  uptimeSeconds: number;
  clientsConnected: number;
  messagesReceived: number;
  messagesSent: number;
  subscriptions: number;
  retained: number;
  /** Topic shards' Durable Object requests (RPC, alarms, fetches) and SQLite rows, since each last started. */
  shardRequests: number;
  shardRowsWritten: number;
  shardRowsRead: number;
}

/** The $SYS topics and their payloads, named as mosquitto names them so that existing dashboards work. */
export function sysMessages(stats: BrokerStatistics): Array<[topic: string, value: string]> {
  return [
    ['$SYS/broker/version', `edge-mqtt-broker ${stats.version}`],
    ['$SYS/broker/uptime', `${stats.uptimeSeconds} seconds`],
    ['$SYS/broker/clients/connected', String(stats.clientsConnected)],
    ['$SYS/broker/messages/received', String(stats.messagesReceived)],
    ['$SYS/broker/messages/sent', String(stats.messagesSent)],
    ['$SYS/broker/subscriptions/count', String(stats.subscriptions)],
    ['$SYS/broker/retained messages/count', String(stats.retained)],
    ['$SYS/broker/durable-objects/shards/requests', String(stats.shardRequests)],
    ['$SYS/broker/durable-objects/shards/rows written', String(stats.shardRowsWritten)],
    ['$SYS/broker/durable-objects/shards/rows read', String(stats.shardRowsRead)],
  ];
}
