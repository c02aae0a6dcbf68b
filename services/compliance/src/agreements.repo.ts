import type { Knex } from "@portal/platform";
import type { AgreementClause } from "./types";

export interface AgreementRow {
	product_code: string;
	version: string;
	title: string;
	clauses: AgreementClause[];
	effective_at: Date;
	published_at: Date;
	published_by: string | null;
}

export const toAgreement = (row: AgreementRow) => ({
	productCode: row.product_code,
	version: row.version,
	title: row.title,
	clauses: row.clauses,
	effectiveAt: row.effective_at.toISOString(),
});

/** The version of a product's agreement in force at `at`. */
export const agreementInForce = (db: Knex, productCode: string, at: Date): Promise<AgreementRow | undefined> =>
	db<AgreementRow>("compliance.agreements")
		.where({ product_code: productCode })
		.where("effective_at", "<=", at)
		.orderBy("effective_at", "desc")
		.first();

/**
 * A purchase is acceptance of the product's agreement in force at the time (R28). The product is kept
 * too, so an agreement published later can be accepted against it.
 */
export async function recordPurchase(trx: Knex.Transaction, accountId: string, productCode: string, at: Date): Promise<void> {
	await trx("compliance.account_products")
		.insert({ account_id: accountId, product_code: productCode, since: at })
		.onConflict(["account_id", "product_code"])
		.ignore();
	const agreement = await agreementInForce(trx, productCode, at);
	if (agreement) await accept(trx, accountId, agreement, at, "purchase");
}

export async function accept(
	trx: Knex,
	accountId: string,
	agreement: AgreementRow,
	at: Date,
	source: "purchase" | "acceptance",
): Promise<void> {
	await trx("compliance.agreement_acceptances")
		.insert({ account_id: accountId, product_code: agreement.product_code, version: agreement.version, accepted_at: at, source })
		.onConflict(["account_id", "product_code", "version"])
		.ignore();
}

/** Per product the account holds: the newest version it accepted and the version now in force. */
export async function agreementsOf(db: Knex, accountId: string, now: Date) {
	const products: { product_code: string; since: Date }[] = await db("compliance.account_products")
		.where({ account_id: accountId })
		.orderBy("product_code");
	const result = [];
	for (const product of products) {
		const accepted: (AgreementRow & { accepted_at: Date; source: string }) | undefined = await db("compliance.agreement_acceptances as a")
			.join("compliance.agreements as g", function on() {
				this.on("g.product_code", "a.product_code").andOn("g.version", "a.version");
			})
			.where({ "a.account_id": accountId, "a.product_code": product.product_code })
			.orderBy("g.effective_at", "desc")
			.select("g.*", "a.accepted_at", "a.source")
			.first();
		const current = await agreementInForce(db, product.product_code, now);
		result.push({
			productCode: product.product_code,
			since: product.since.toISOString(),
			accepted: accepted ? { ...toAgreement(accepted), acceptedAt: accepted.accepted_at.toISOString(), source: accepted.source } : null,
			current: current ? toAgreement(current) : null,
		});
	}
	return result;
}
