import { useLang } from "../../lib/i18n";
import { vocabulary } from "./messages";

/** A vocabulary value in the user's language (as sent when the console has no word for it). */
export function useWords(): (value: string | null | undefined) => string {
  const { lang } = useLang();
  return (value) => (value ? vocabulary[lang][value] ?? value : "—");
}
