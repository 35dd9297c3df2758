import { useMessages } from "../../lib/i18n";
import { messages } from "./messages";

/** A role in words (as sent when unknown). */
export function useRoleName(): (role: string) => string {
  const m = useMessages(messages);
  return (role) => ({ rep: m.roleRep, manager: m.roleManager, admin: m.roleAdmin } as Record<string, string>)[role] ?? role;
}

/** A quota status in words. */
export function useQuotaStatus(): (status: string) => string {
  const m = useMessages(messages);
  return (s) => (m as Record<string, string>)[`status_${s}`] ?? s;
}
