/**
 * The service's notion of "now". CCPA clocks (12-month limit, 45-day due dates, 24-month retention)
 * run on it, so a test can move time forward by replacing `now` instead of waiting a year.
 */
export interface Clock {
	now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

const DAY_MS = 86_400_000;

export const addDays = (date: Date, days: number): Date => new Date(date.getTime() + days * DAY_MS);

export function addMonths(date: Date, months: number): Date {
	const next = new Date(date.getTime());
	next.setUTCMonth(next.getUTCMonth() + months);
	return next;
}
