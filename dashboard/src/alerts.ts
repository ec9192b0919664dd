// What each reconciliation alert means for an operator, and what to do about it. No DOM here: tests import it.

export interface AlertMeaning {
  title: string;
  meaning: string;
  action: string;
  /** How bad: a money or ledger invariant broken (critical), a limit overrun (warning), informational. */
  severity: 'critical' | 'warning' | 'info';
}

export const ALERT_MEANINGS: Record<string, AlertMeaning> = {
  balance_mismatch: {
    title: 'Balance differs from the ledger',
    meaning: "The period's balance row (credits consumed, allowance, top-ups and overage used) is not the sum of the period's recorded events.",
    action: 'Do not close or invoice the period by hand: compare the balance row with the event sums in the details, and find the write that bypassed the ledger (a manual UPDATE, a restored backup).',
    severity: 'critical',
  },
  grant_mismatch: {
    title: 'Top-up grant differs from its consumptions',
    meaning: "A top-up grant's remaining credits are not its amount minus what events took from it.",
    action: 'The customer may be shown the wrong top-up balance: check the grant in the details against the events that drew on it.',
    severity: 'critical',
  },
  allowance_exceeded: {
    title: 'Allowance used beyond the plan',
    meaning: "More allowance credits were consumed than the period's plan includes.",
    action: 'Credits were given away: look at the plan changes of the period and at events charged to the allowance after it was full.',
    severity: 'critical',
  },
  overage_not_permitted: {
    title: 'Overage on a plan without overage',
    meaning: 'The period recorded overage although its plan is a hard cap (no overage rate).',
    action: 'The customer would be invoiced for overage the plan does not allow: review the period before its invoice is frozen.',
    severity: 'critical',
  },
  spend_cap_exceeded: {
    title: 'Spend cap exceeded',
    meaning: "The period's overage cost is above the organization's spend cap.",
    action: 'The cap was not enforced for some events: check the cap changes of the period; the invoice shows the recorded cost.',
    severity: 'warning',
  },
  rollup_mismatch: {
    title: 'Rollups differed from the raw events (repaired)',
    meaning: 'Daily or monthly aggregates did not add up to the raw events; the job rebuilt them from the events, so analytics are right again.',
    action: 'Nothing to repair. Repeated alerts point at a writer that skips the rollups.',
    severity: 'info',
  },
  async_events_refused: {
    title: 'Asynchronous events refused when written',
    meaning: 'Events accepted asynchronously did not fit when they were written (allowance, cap or limit) and were kept as refused events, never charged.',
    action: 'The customer used the service without paying for these events: see GET /api/organizations/:orgId/usage/events?status=refused, and consider a top-up or a plan change.',
    severity: 'warning',
  },
  period_close_failed: {
    title: 'Period close failed for this organization',
    meaning: 'Freezing this organization\'s invoice and monthly report failed; every other organization of the period closed, and the period stays closing until this one closes too.',
    action: 'Read the error in the alert details and the period-close job run, repair the cause, then run the period-close job again (POST /api/admin/jobs/period-close/run).',
    severity: 'critical',
  },
  ingest_lag: {
    title: 'Asynchronous ingestion is behind',
    meaning: 'The oldest event waiting in the ingest queue is older than INGEST_LAG_ALERT_SECONDS: the drainers are down, too few, or the database is slow. Accepted events are safe in the queue but not yet charged.',
    action: 'Check that instances run with INGEST_DRAINERS > 0 and that the database answers; add instances if the lag keeps growing. Past INGEST_MAX_AGE_SECONDS asynchronous calls are refused (503).',
    severity: 'warning',
  },
};

/** The meaning of an alert kind; an unknown kind (a newer service) is shown as such rather than hidden. */
export function alertMeaning(kind: string): AlertMeaning {
  return ALERT_MEANINGS[kind] ?? { title: kind, meaning: 'An alert kind this dashboard does not know yet.', action: 'See GET /api/admin/jobs/alerts for its details.', severity: 'warning' };
}
