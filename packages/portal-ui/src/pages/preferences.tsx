import { useEffect, useState } from "preact/hooks";
import { api, formatDate } from "../api";
import { Card, Checkbox, Form, Loaded, Page, Success, useResource, useSubmit } from "../ui";

interface Preferences {
	marketing: { email: boolean };
	topics?: Record<string, boolean>;
	products?: { code: string; name: string }[];
	serviceMessages: "always";
	serviceMessagesNote?: string;
	jurisdiction?: { country: string | null; optInRequired: boolean };
	updatedAt?: string | null;
}

export function PreferencesPage() {
	const prefs = useResource<Preferences>("/preferences/communications");
	const [marketing, setMarketing] = useState(false);
	const [topics, setTopics] = useState<Record<string, boolean>>({});
	const [saved, setSaved] = useState(false);
	const { busy, error, run } = useSubmit();
	useEffect(() => {
		if (!prefs.data) return;
		setMarketing(prefs.data.marketing.email);
		setTopics(prefs.data.topics ?? {});
	}, [prefs.data]);

	const save = () =>
		run(async () => {
			setSaved(false);
			const body: Record<string, unknown> = { marketing: { email: marketing } };
			if (Object.keys(topics).length > 0) body.topics = topics;
			await api("PUT", "/preferences/communications", body);
			await prefs.reload();
			setSaved(true);
		});

	return (
		<Page title="Communication preferences" intro="Choose which mails you get from OMTI.">
			<Loaded resource={prefs} what="your preferences">
				{(p) => {
					const products = p.products ?? Object.keys(topics).map((code) => ({ code, name: code }));
					return (
						<Card title="Mail from OMTI">
							<Form
								onSubmit={save}
								busy={busy}
								error={error}
								submit="Save preferences"
								busyText="Saving…"
								label="Communication preferences"
							>
								<fieldset>
									<legend>Marketing</legend>
									{p.jurisdiction?.optInRequired && <p class="muted">Where you live, we send marketing only after you opt in here.</p>}
									<Checkbox
										name="marketing"
										label="Send me news and offers by email"
										checked={marketing}
										onChecked={(on) => {
											setMarketing(on);
											setSaved(false);
										}}
									/>
									{products.length > 0 && (
										<fieldset class="nested">
											<legend>About these products</legend>
											{products.map((product) => (
												<Checkbox
													key={product.code}
													name={`topic-${product.code}`}
													label={product.name}
													checked={topics[product.code] ?? true}
													disabled={!marketing}
													onChecked={(on) => setTopics({ ...topics, [product.code]: on })}
												/>
											))}
										</fieldset>
									)}
								</fieldset>
								<fieldset>
									<legend>Service messages</legend>
									<Checkbox
										name="serviceMessages"
										label="Account, security, policy and request messages"
										checked
										disabled
										onChecked={() => undefined}
									/>
									<p class="muted">
										{p.serviceMessagesNote ?? "Service messages are always sent: they concern your account and cannot be turned off."}
									</p>
								</fieldset>
								{saved && <Success>Your preferences are saved and apply at once.</Success>}
								{p.updatedAt && <p class="muted">Last changed {formatDate(p.updatedAt, true)}.</p>}
							</Form>
						</Card>
					);
				}}
			</Loaded>
		</Page>
	);
}
