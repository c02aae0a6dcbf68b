import { useEffect, useState } from "preact/hooks";

/** A tiny History API router: the gateway answers every client route with index.html. */
type Listener = () => void;
const listeners = new Set<Listener>();

export function navigate(to: string, replace = false) {
	if (replace) history.replaceState(null, "", to);
	else history.pushState(null, "", to);
	for (const listener of listeners) listener();
}

export function useLocation(): { path: string; query: URLSearchParams } {
	const [, setTick] = useState(0);
	useEffect(() => {
		const update = () => setTick((n) => n + 1);
		listeners.add(update);
		window.addEventListener("popstate", update);
		return () => {
			listeners.delete(update);
			window.removeEventListener("popstate", update);
		};
	}, []);
	return { path: location.pathname.replace(/\/+$/, "") || "/", query: new URLSearchParams(location.search) };
}

/** Same-origin links go through the router; modified clicks keep the browser's behaviour. */
export function onLinkClick(event: MouseEvent) {
	const anchor = (event.target as Element | null)?.closest?.("a");
	if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
	const href = anchor.getAttribute("href");
	if (!href || !href.startsWith("/") || href.startsWith("/api/") || anchor.hasAttribute("download") || anchor.target) return;
	event.preventDefault();
	navigate(href);
}
