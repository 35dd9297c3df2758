import { useMessages } from "../../lib/i18n";
import { messages } from "./messages";

export default function Accounts() {
  const m = useMessages(messages);
  return <h1>{m.title}</h1>;
}
