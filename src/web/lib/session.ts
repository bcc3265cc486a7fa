// The API key lives in sessionStorage: it goes when the tab closes.
const KEY = "zumbido.apiKey";

/** The signed-in API key, or null. */
export function getKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** Keeps the API key for this tab. */
export function setKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

/** Forgets the API key. */
export function clearKey(): void {
  sessionStorage.removeItem(KEY);
}
