// The one alarm of an object that multiplexes retries and a watchdog (BridgeDO, RuleDO): set to the earliest
// time asked for, except that an alarm already set for sooner stays, so a watchdog re-planned on every call
// costs no storage write until it fires or a retry needs it earlier.
export class PlannedAlarm {
  /** As this instance last set it: null for none, undefined before it set or cleared one. */
  private at: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** The alarm fired: none is set now. */
  fired(): void {
    this.at = null;
  }

  /** Wants the alarm at `next`, or none (null). */
  plan(next: number | null, now = Date.now()): void {
    if (next === null) {
      if (this.at != null) void this.storage.deleteAlarm();
      this.at = null;
      return;
    }
    if (this.at != null && this.at > now && this.at <= next) return;
    this.at = next;
    void this.storage.setAlarm(next);
  }
}
