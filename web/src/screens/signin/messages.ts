import type { Messages } from "../../lib/i18n";

export const messages: Messages<"title" | "email" | "password" | "submit" | "expired" | "failed" | "demo"> = {
  "zh-CN": {
    title: "登录",
    email: "邮箱",
    password: "密码",
    submit: "登录",
    expired: "登录已过期或失效，请重新登录。",
    failed: "邮箱或密码不正确",
    demo: "演示账号：director@demo.kam、north.manager@demo.kam、wang.fang@demo.kam 等，密码 demo。",
  },
  en: {
    title: "Sign in",
    email: "Email",
    password: "Password",
    submit: "Sign in",
    expired: "Your session ended; please sign in again.",
    failed: "Wrong email or password",
    demo: "Demo users: director@demo.kam, north.manager@demo.kam, wang.fang@demo.kam and more; password demo.",
  },
};
