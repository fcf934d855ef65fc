/*
 * The snapshot window of a run: the calendar months (UTC) whose partitions the
 * run may create. It ends at the run's newest valid snapshot, which the schema
 * already holds to at most an hour after the fetch, and reaches back
 * WINDOW_MONTHS_BACK whole months before that month. An item outside it is
 * skipped and counted, so a run creates at most WINDOW_MONTHS_BACK + 1
 * partitions however its dates are spread.
 *
 * The window follows the run's newest snapshot rather than the wall clock so a
 * fixed data set (the fake upstream's 2025 sample) is stored the same way in
 * any year; against the live upstream, whose items are minutes old, the two are
 * the same month.
 */

/** Whole months before the newest snapshot's month that a run still stores (a coin whose quote is that stale is dead). */
export const WINDOW_MONTHS_BACK = 2;

/** The first instant (UTC) of the month `months` months after the one holding `time`. */
export function utcMonthStart(time: number, months = 0): number {
  const date = new Date(time);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1);
}

/** How many calendar months (UTC) [from, to] touches. */
export function monthsSpanned(from: number, to: number): number {
  const a = new Date(from);
  const b = new Date(to);
  return (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth() + 1;
}

export interface SnapshotWindow {
  /** inclusive: the first instant of the oldest month stored */
  from: number;
  /** inclusive: the newest snapshot */
  to: number;
}

export function snapshotWindow(newest: number): SnapshotWindow {
  return { from: utcMonthStart(newest, -WINDOW_MONTHS_BACK), to: newest };
}
