import { useEffect, useState } from "preact/hooks";
import { ApiError, api, type Me } from "./api";

/** Who is signed in: `undefined` while asking, `null` when nobody is. Shared by every page. */
let current: Me | null | undefined;
const listeners = new Set<(me: Me | null | undefined) => void>();

function set(me: Me | null | undefined) {
	current = me;
	for (const listener of listeners) listener(me);
}

export async function refreshMe(): Promise<Me | null> {
	try {
		const { data } = await api<Me>("GET", "/me");
		set(data);
		return data;
	} catch (err) {
		if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
			set(null);
			return null;
		}
		throw err;
	}
}

export function signedIn(me: Me) {
	set(me);
}

export async function signOut() {
	try {
		await api("POST", "/auth/sign-out");
	} finally {
		set(null);
	}
}

export function useMe(): Me | null | undefined {
	const [me, setMe] = useState(current);
	useEffect(() => {
		listeners.add(setMe);
		if (current === undefined) void refreshMe().catch(() => set(null));
		return () => {
			listeners.delete(setMe);
		};
	}, []);
	return me;
}

export const isStaff = (me: Me | null | undefined) => (me?.roles?.length ?? 0) > 0;
