import type { Messages } from "../../lib/i18n";

export const messages: Messages<"title"> = {
  "zh-CN": { title: "预测" },
  en: { title: "Forecast" },
};
