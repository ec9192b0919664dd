/**
 * Agent runs (docs/agent-runs.md). Every credit figure is a decimal string, exact to the micro-credit as
 * the ledger counts (a budget may reach 10^10 credits with 6 decimals, past what a number holds exactly).
 */

/** A child run as its parent's view lists it. */
export interface RunChild {
  id: string;
  label: string | null;
  status: 'open' | 'closed';
  budgetCredits: string | null;
  /** What it and its descendants were charged (accepted events). */
  spentCredits: string;
  /** What it and its descendants hold (pending reservations). */
  heldCredits: string;
}

/** The run's own events of one type. */
export interface RunItem {
  eventType: string;
  events: number;
  credits: string;
  /** The priced units its events named, summed per unit (e.g. `{"tokens": "1200"}`); empty when none. */
  units: { [unit: string]: string };
}

export interface RunView {
  id: string;
  organizationId: string;
  parentRunId: string | null;
  /** The run's ancestry, root first, the run itself last. */
  path: string[];
  label: string | null;
  /** open, or closed (by POST …/close, a closed ancestor, or its ttl: then closedReason says expired). */
  status: 'open' | 'closed';
  closedReason: 'closed' | 'expired' | null;
  budgetCredits: string | null;
  /** Charged to the run and its descendants (accepted events): its own spend plus its children's. */
  spentCredits: string;
  /** Held by pending reservations of the run and its descendants: counts against the budget until settled. */
  heldCredits: string;
  /** Budget minus spent and held (never below 0); null without a budget of its own. */
  remainingCredits: string | null;
  expiresAt: string | null;
  createdAt: string;
  closedAt: string | null;
  /** The run's own events by type (its children's are in `children`). */
  items: RunItem[];
  children: RunChild[];
}

/** What closing a run answers: the run as it is now, and the holds it gave back. */
export interface RunClosed extends RunView {
  releasedReservations: number;
}

/** A run in a list: where it stands, without its items (`GET …/runs/:id` has them). */
export interface RunSummary {
  id: string;
  parentRunId: string | null;
  label: string | null;
  status: 'open' | 'closed';
  closedReason: 'closed' | 'expired' | null;
  budgetCredits: string | null;
  /** Charged to the run and its descendants (accepted events). */
  spentCredits: string;
  /** Held by pending reservations of the run and its descendants. */
  heldCredits: string;
  remainingCredits: string | null;
  /** How many runs name this one as their parent. */
  childRuns: number;
  expiresAt: string | null;
  createdAt: string;
  closedAt: string | null;
}

/** `GET …/runs`: newest first; `nextCursor` is the `before` of the next page (null on the last). */
export interface RunList {
  items: RunSummary[];
  nextCursor: string | null;
}
