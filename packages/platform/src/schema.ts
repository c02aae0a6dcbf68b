import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";

/**
 * Types a service schema (or mixin) whose handlers see `this` as the service plus its own
 * methods and state. Moleculer's default `this` is `Service & Record<string, any>`, which would
 * let every typo through.
 */
export type ServiceThis<Extra> = Service & Extra;

// biome-ignore lint/suspicious/noExplicitAny: Moleculer's own generic defaults.
type Loose = Record<string, any>;

export function defineService<Extra>(schema: ServiceSchema<ServiceSettingSchema, Loose, Loose, ServiceThis<Extra>>): ServiceSchema {
	return schema as unknown as ServiceSchema;
}

export function defineMixin<Extra>(
	schema: Partial<ServiceSchema<ServiceSettingSchema, Loose, Loose, ServiceThis<Extra>>>,
): Partial<ServiceSchema> {
	return schema as unknown as Partial<ServiceSchema>;
}
