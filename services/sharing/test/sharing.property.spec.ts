import { randomUUID } from "node:crypto";
import {
	type Actor,
	type CheckParams,
	type CheckResult,
	PROFILE_SECTIONS,
	type ProfileSection,
	type SharePermission,
} from "@portal/contracts";
import fc from "fast-check";
import { startTestPortal, type TestPortal } from "../../../test/support/portal";

/**
 * R8, R11, R12 as a property: whatever sequence of grants, revokes and team changes an owner makes
 * (with checks in between, so decisions are cached and must be invalidated), a stranger never gets
 * access, and every other answer of `sharing.check` equals a plain model of the rules.
 */
type Person = "a" | "b" | "stranger";
type Op =
	| { kind: "grant"; to: "a" | "b"; role: "viewer" | "editor"; sections: ProfileSection[] | null }
	| { kind: "grantTeam"; team: 0 | 1; role: "viewer" | "editor"; sections: ProfileSection[] | null }
	| { kind: "revoke"; pick: number }
	| { kind: "add"; team: 0 | 1; who: "a" | "b" }
	| { kind: "remove"; team: 0 | 1; who: "a" | "b" }
	| { kind: "check"; who: Person; section: ProfileSection; permission: SharePermission }
	| { kind: "strangerElsewhere" };

const sections = fc.option(fc.uniqueArray(fc.constantFrom(...PROFILE_SECTIONS), { minLength: 1, maxLength: 3 }), { nil: null });
const role = fc.constantFrom("viewer" as const, "editor" as const);
const team = fc.constantFrom(0 as const, 1 as const);
const member = fc.constantFrom("a" as const, "b" as const);
const op: fc.Arbitrary<Op> = fc.oneof(
	fc.record({ kind: fc.constant("grant" as const), to: member, role, sections }),
	fc.record({ kind: fc.constant("grantTeam" as const), team, role, sections }),
	fc.record({ kind: fc.constant("revoke" as const), pick: fc.nat() }),
	fc.record({ kind: fc.constant("add" as const), team, who: member }),
	fc.record({ kind: fc.constant("remove" as const), team, who: member }),
	fc.record({
		kind: fc.constant("check" as const),
		who: fc.constantFrom("a" as const, "b" as const, "stranger" as const),
		section: fc.constantFrom(...PROFILE_SECTIONS),
		permission: fc.constantFrom("view" as const, "edit" as const),
	}),
	fc.constant({ kind: "strangerElsewhere" as const }),
);

interface ModelGrant {
	to: { user: "a" | "b" } | { team: 0 | 1 };
	role: "viewer" | "editor";
	sections: ProfileSection[] | null;
	id: string;
	revoked: boolean;
}

describe("sharing: no sequence of operations lets a stranger in", () => {
	let portal: TestPortal;
	/** identity is outside this test: a fake answers `identity.lookup` from this table. */
	const accounts = new Map<string, { id: string; username: string; email: string; kind: "customer"; status: "active" }>();

	beforeAll(async () => {
		portal = await startTestPortal({ services: ["sharing"] });
		portal.broker.createService({
			name: "identity",
			actions: {
				lookup: {
					params: {
						username: { type: "string", optional: true },
						email: { type: "string", optional: true },
						ids: { type: "array", optional: true },
					},
					handler(ctx: { params: { username?: string; ids?: string[] } }) {
						const all = [...accounts.values()];
						if (ctx.params.username) return all.filter((a) => a.username === ctx.params.username);
						if (ctx.params.ids) return all.filter((a) => ctx.params.ids?.includes(a.id));
						return [];
					},
				},
			},
		});
		await portal.broker.waitForServices(["identity", "sharing"]);
	});
	afterAll(() => portal?.stop());

	const actor = (id: string): { meta: { actor: Actor } } => ({
		meta: { actor: { kind: "account", id, roles: [], sessionId: "property" } },
	});

	it("R8/R11/R12: a stranger never reads, and sharing.check always equals the model", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), async (ops) => {
				const run = randomUUID().slice(0, 8);
				const ids: Record<Person | "owner" | "other", string> = {
					owner: randomUUID(),
					a: randomUUID(),
					b: randomUUID(),
					stranger: randomUUID(),
					other: randomUUID(),
				};
				for (const [who, id] of Object.entries(ids))
					accounts.set(id, { id, username: `${who}-${run}`, email: `${who}-${run}@example.com`, kind: "customer", status: "active" });
				const asOwner = actor(ids.owner);
				const teams: string[] = [];
				for (const name of ["t0", "t1"])
					teams.push((await portal.broker.call<{ id: string }, { name: string }>("sharing.createTeam", { name }, asOwner)).id);
				const grants: ModelGrant[] = [];
				const members: [Set<string>, Set<string>] = [new Set(), new Set()];

				const expected = (who: Person, section: ProfileSection, permission: SharePermission): boolean =>
					who !== "stranger" &&
					grants.some(
						(g) =>
							!g.revoked &&
							("user" in g.to ? g.to.user === who : members[g.to.team].has(who)) &&
							(g.role === "editor" || permission === "view") &&
							(g.sections === null || g.sections.includes(section)),
					);
				const check = async (who: Person, section: ProfileSection, permission: SharePermission) => {
					const res = await portal.broker.call<CheckResult, CheckParams>("sharing.check", {
						ownerId: ids.owner,
						actorId: ids[who],
						section,
						permission,
					});
					expect({ who, section, permission, allowed: res.allowed }).toEqual({
						who,
						section,
						permission,
						allowed: expected(who, section, permission),
					});
				};

				for (const o of ops) {
					switch (o.kind) {
						case "grant": {
							const body = { grantee: { username: `${o.to}-${run}` }, role: o.role, ...(o.sections ? { sections: o.sections } : {}) };
							const { id } = await portal.broker.call<{ id: string }, typeof body>("sharing.grant", body, asOwner);
							grants.push({ to: { user: o.to }, role: o.role, sections: o.sections, id, revoked: false });
							break;
						}
						case "grantTeam": {
							const body = { grantee: { teamId: teams[o.team] as string }, role: o.role, ...(o.sections ? { sections: o.sections } : {}) };
							const { id } = await portal.broker.call<{ id: string }, typeof body>("sharing.grant", body, asOwner);
							grants.push({ to: { team: o.team }, role: o.role, sections: o.sections, id, revoked: false });
							break;
						}
						case "revoke": {
							const live = grants.filter((g) => !g.revoked);
							const target = live[o.pick % Math.max(1, live.length)];
							if (!target) break;
							await portal.broker.call("sharing.revoke", { id: target.id }, asOwner);
							target.revoked = true;
							break;
						}
						case "add":
							await portal.broker.call("sharing.addMember", { id: teams[o.team], username: `${o.who}-${run}` }, asOwner);
							members[o.team].add(o.who);
							break;
						case "remove":
							if (!members[o.team].has(o.who)) break;
							await portal.broker.call("sharing.removeMember", { id: teams[o.team], accountId: ids[o.who] }, asOwner);
							members[o.team].delete(o.who);
							break;
						case "check":
							await check(o.who, o.section, o.permission);
							break;
						case "strangerElsewhere": {
							// Someone else shares everything with the stranger and puts them in a team: nothing changes for this owner.
							const other = actor(ids.other);
							const t = await portal.broker.call<{ id: string }, { name: string }>(
								"sharing.createTeam",
								{ name: `x-${randomUUID()}` },
								other,
							);
							await portal.broker.call("sharing.addMember", { id: t.id, username: `stranger-${run}` }, other);
							await portal.broker.call("sharing.grant", { grantee: { teamId: t.id }, role: "editor" }, other);
							await portal.broker.call("sharing.grant", { grantee: { username: `stranger-${run}` }, role: "editor" }, other);
							break;
						}
					}
					// Check after every step so that cached decisions must be invalidated by the next write.
					await check("stranger", "name", "view");
					await check("a", "contact", "view");
				}
				for (const who of ["a", "b", "stranger"] as const)
					for (const section of PROFILE_SECTIONS) for (const permission of ["view", "edit"] as const) await check(who, section, permission);
			}),
			{ numRuns: 40 },
		);
	});
});
