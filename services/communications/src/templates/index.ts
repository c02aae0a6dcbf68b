import { productAdded } from "./product-added";
import type { Template } from "./template";
import { welcome } from "./welcome";

export type { RenderedMail, Template } from "./template";

/** Every mail the portal sends, by name. One file per template beside this one. */
export const templates: ReadonlyMap<string, Template> = new Map([welcome, productAdded].map((t) => [t.name, t]));
