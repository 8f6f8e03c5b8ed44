// Turns a title into a URL slug. It has three bugs for the demo loop to fix.
export function slugify(title) {
	return title.replace(/[^A-Za-z0-9 ]/g, "");
}
