import type { ComponentType } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ActivityPage } from "./pages/activity";
import { ActivatePage, ConfirmEmailPage, ForgotPasswordPage, ResetPasswordPage, SignInPage } from "./pages/auth";
import { HomePage } from "./pages/home";
import { PreferencesPage } from "./pages/preferences";
import { PrivacyPage } from "./pages/privacy";
import { ProfilePage } from "./pages/profile";
import { SecurityPage } from "./pages/security";
import { SharedProfilePage, SharingPage, TeamsPage } from "./pages/sharing";
import { StaffPage } from "./pages/staff";
import { navigate, onLinkClick, useLocation } from "./router";
import { isStaff, signOut, useMe } from "./session";
import { Loading } from "./ui";

interface RouteDef {
	title: string;
	page: ComponentType;
	/** Shown in the main navigation when signed in. */
	nav?: boolean;
	access: "public" | "signedIn" | "staff";
}

const ROUTES: Record<string, RouteDef> = {
	"/": { title: "Home", page: HomePage, nav: true, access: "signedIn" },
	"/profile": { title: "Profile", page: ProfilePage, nav: true, access: "signedIn" },
	"/sharing": { title: "Sharing", page: SharingPage, nav: true, access: "signedIn" },
	"/shared": { title: "Shared profile", page: SharedProfilePage, access: "signedIn" },
	"/teams": { title: "Teams", page: TeamsPage, nav: true, access: "signedIn" },
	"/activity": { title: "Activity", page: ActivityPage, nav: true, access: "signedIn" },
	"/preferences": { title: "Communication", page: PreferencesPage, nav: true, access: "signedIn" },
	"/privacy": { title: "Privacy centre", page: PrivacyPage, nav: true, access: "signedIn" },
	"/security": { title: "Sign-in & security", page: SecurityPage, nav: true, access: "signedIn" },
	"/staff": { title: "Staff console", page: StaffPage, nav: true, access: "staff" },
	"/sign-in": { title: "Sign in", page: SignInPage, access: "public" },
	"/activate": { title: "Activate your account", page: ActivatePage, access: "public" },
	"/forgot-password": { title: "Forgot password", page: ForgotPasswordPage, access: "public" },
	"/reset-password": { title: "Choose a new password", page: ResetPasswordPage, access: "public" },
	"/confirm-email": { title: "Confirm your email", page: ConfirmEmailPage, access: "public" },
};

function NotFound() {
	return (
		<>
			<h1 tabIndex={-1} id="page-title">
				Page not found
			</h1>
			<p>
				There is no page at this address. <a href="/">Go to the home page</a>.
			</p>
		</>
	);
}

export function App() {
	const { path } = useLocation();
	const me = useMe();
	const [menuOpen, setMenuOpen] = useState(false);
	const first = useRef(true);
	const route = ROUTES[path];

	// Announce the new page: move focus to its heading on client-side navigation.
	useEffect(() => {
		document.title = `${route?.title ?? "Not found"} · OMTI Customer Portal`;
		setMenuOpen(false);
		if (first.current) {
			first.current = false;
			return;
		}
		requestAnimationFrame(() => document.getElementById("page-title")?.focus());
	}, [path, route?.title]);

	const needsSession = route && route.access !== "public";
	useEffect(() => {
		if (needsSession && me === null) navigate(`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`, true);
	}, [needsSession, me]);

	let content = <NotFound />;
	if (route) {
		const PageComponent = route.page;
		if (needsSession && !me) content = <Loading what="your account" />;
		else if (route.access === "staff" && !isStaff(me))
			content = (
				<>
					<h1 tabIndex={-1} id="page-title">
						Staff only
					</h1>
					<p>This page is for OMTI staff.</p>
				</>
			);
		else content = <PageComponent />;
	}

	const links = Object.entries(ROUTES).filter(([, r]) => r.nav && (r.access !== "staff" || isStaff(me)));
	return (
		// biome-ignore lint/a11y/noStaticElementInteractions: delegated link routing; every target is a real <a>.
		// biome-ignore lint/a11y/useKeyWithClickEvents: keyboard activation of links fires click too.
		<div class="shell" onClick={onLinkClick}>
			<a class="skip" href="#main">
				Skip to content
			</a>
			<header class="top">
				<a class="brand" href="/">
					<span class="logo" aria-hidden="true">
						O
					</span>
					OMTI Customer Portal
				</a>
				{me && (
					<>
						<button
							type="button"
							class="menu-toggle"
							aria-expanded={menuOpen ? "true" : "false"}
							aria-controls="main-nav"
							onClick={() => setMenuOpen(!menuOpen)}
						>
							Menu
						</button>
						<nav id="main-nav" class={menuOpen ? "open" : ""} aria-label="Main">
							<ul>
								{links.map(([href, r]) => (
									<li key={href}>
										<a href={href} aria-current={href === path ? "page" : undefined}>
											{r.title}
										</a>
									</li>
								))}
							</ul>
						</nav>
						<div class="account">
							<span class="who">{me.username}</span>
							<button
								type="button"
								class="link"
								onClick={() => {
									void signOut().finally(() => navigate("/sign-in"));
								}}
							>
								Sign out
							</button>
						</div>
					</>
				)}
			</header>
			<main id="main" tabIndex={-1}>
				{content}
			</main>
			<footer class="foot">
				<a href="/privacy">Privacy centre</a> · <a href="/api/docs">API reference</a>
			</footer>
		</div>
	);
}
