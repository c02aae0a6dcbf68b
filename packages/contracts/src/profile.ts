import type { DurableMessage } from "./channels";

/** Durable facts profile publishes through its outbox. */
export const ProfileChannels = {
	/**
	 * R10: the owner confirmed a new contact email from that address. Identity may adopt it as the
	 * sign-in email (its own decision); the message is the evidence that the address was confirmed.
	 */
	emailConfirmed: "profile.email.confirmed",
} as const;

export interface ProfileEmailConfirmedMessage extends DurableMessage {
	accountId: string;
	previousEmail: string | null;
	email: string;
	confirmedAt: string;
}
