/**
 * Values shared by every instance of this package's modules in one pi
 * process. pi re-evaluates extension modules on every new session, so
 * module-level variables do not survive; globalThis does.
 */
export function processWide<T>(name: string, create: () => T): T {
	const key = Symbol.for(`pi-loop-factory.${name}`);
	const registry = globalThis as unknown as Record<symbol, T | undefined>;
	let value = registry[key];
	if (value === undefined) {
		value = create();
		registry[key] = value;
	}
	return value;
}
