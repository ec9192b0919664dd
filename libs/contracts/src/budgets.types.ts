// Budgets inside an organization: a spend limit per API key or per member, per month or day.
// Pure types only: this folder has no runtime dependency.

export type BudgetScope = 'apiKey' | 'user';
export type BudgetPeriod = 'month' | 'day';

export interface BudgetView {
  id: string;
  organizationId: string;
  /** apiKey: `subject` is an organization API key's id; user: a member's userId (X-User-Id). */
  scope: BudgetScope;
  subject: string;
  /** The API key's name (scope apiKey), so a reader can tell keys apart; null for a member. */
  subjectName: string | null;
  period: BudgetPeriod;
  /** The limit per window, in credits. */
  credits: number;
  /** Charged in the current window (UTC month or day), pending reservations included. */
  used: number;
  /** max(0, credits - used). */
  remaining: number;
  /** The current window, [start, end). */
  window: { start: string; end: string };
  createdAt: string;
  updatedAt: string;
}

export interface BudgetList {
  items: BudgetView[];
  count: number;
}
