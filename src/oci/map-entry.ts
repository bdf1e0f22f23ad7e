/**
 * Sets `key` on a map-typed field (labels, annotations, port and volume
 * sets) as an own property, whatever the key: a plain assignment of
 * `__proto__` would change the object's prototype and the key would be lost.
 */
export function setMapEntry<T>(map: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}
