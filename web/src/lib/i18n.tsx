// Two languages: zh-CN (the default, the source documents' language) and English. Each screen
// keeps its own strings in messages.ts as { "zh-CN": {...}, en: {...} } with the same keys.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

export type Lang = "zh-CN" | "en";
export const LANGS: Lang[] = ["zh-CN", "en"];
const KEY = "kam.lang";

export type Messages<K extends string> = Record<Lang, Record<K, string>>;

interface LangContext {
  lang: Lang;
  setLang: (lang: Lang) => void;
}

const Ctx = createContext<LangContext>({ lang: "zh-CN", setLang: () => {} });

function initialLang(): Lang {
  const stored = localStorage.getItem(KEY);
  return stored === "en" || stored === "zh-CN" ? stored : "zh-CN";
}

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  useEffect(() => {
    document.documentElement.lang = lang; // screen readers and axe read the page's language here
  }, [lang]);
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem(KEY, l);
    setLangState(l);
  }, []);
  const value = useMemo(() => ({ lang, setLang }), [lang, setLang]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useLang(): LangContext {
  return useContext(Ctx);
}

/** A screen's strings in the current language; `{name}` placeholders are filled by fmt(). */
export function useMessages<K extends string>(messages: Messages<K>): Record<K, string> {
  const { lang } = useLang();
  return messages[lang];
}

export function fmt(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? `{${k}}`));
}
