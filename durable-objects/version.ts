// The broker version reported in $SYS/broker/version (kept equal to package.json by a unit test).
export const BROKER_VERSION = '0.1.0';
