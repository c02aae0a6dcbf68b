import { Validators } from "moleculer";

/**
 * fastest-validator with unknown fields rejected by default (ARCHITECTURE rule 6): a client that
 * sends a field we do not know gets a 422 naming it, instead of having it silently ignored.
 * A schema may still opt out with its own `$$strict`.
 */
export class StrictValidator extends Validators.Fastest {
	override compile(schema: Record<string, unknown>) {
		return super.compile({ $$strict: true, ...schema });
	}
}
