import { Suspense } from "react";
import { Navigate, NavLink, Route, Routes, useLocation } from "react-router-dom";

import { roleOf, useAuth } from "./lib/auth";
import { LANGS, useLang, useMessages, type Lang } from "./lib/i18n";
import { shellMessages } from "./lib/messages";
import { routes } from "./routes";
import SignIn from "./screens/signin/SignIn";

function Header() {
  const m = useMessages(shellMessages);
  const { lang, setLang } = useLang();
  const { user, signOut } = useAuth();
  const role = roleOf(user);
  const roleName = role === "admin" ? m.roleAdmin : role === "manager" ? m.roleManager : m.roleRep;
  return (
    <header className="topbar">
      <a className="skip" href="#main">{m.skip}</a>
      <span className="brand">{m.appName}</span>
      {user && (
        <nav aria-label={m.nav}>
          <ul>
            {routes
              .filter((r) => r.nav && role && r.roles.includes(role))
              .map((r) => (
                <li key={r.path}>
                  <NavLink to={r.path} end={r.path === "/"}>{r.nav![lang].title}</NavLink>
                </li>
              ))}
          </ul>
        </nav>
      )}
      <div className="topbar-right">
        <label className="lang">
          <span>{m.language}</span>
          <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => (
              <option key={l} value={l}>{l === "zh-CN" ? "中文" : "English"}</option>
            ))}
          </select>
        </label>
        {user && (
          <>
            <span className="who" aria-label={m.signedInAs} data-testid="current-user">
              {user.name} · <span className="role">{roleName}</span>
            </span>
            <button type="button" onClick={signOut}>{m.signOut}</button>
          </>
        )}
      </div>
    </header>
  );
}

function RequireUser({ children }: { children: React.ReactNode }) {
  const { user, loading } = useAuth();
  const location = useLocation();
  const m = useMessages(shellMessages);
  if (loading) return <p role="status">{m.loading}</p>;
  if (!user) return <Navigate to={`/signin?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

function NotFoundPage() {
  const m = useMessages(shellMessages);
  return <h1>{m.notFoundPage}</h1>;
}

export default function App() {
  const m = useMessages(shellMessages);
  return (
    <>
      <Header />
      <main id="main">
        <Suspense fallback={<p role="status">{m.loading}</p>}>
          <Routes>
            <Route path="/signin" element={<SignIn />} />
            {routes.map(({ path, screen: Screen }) => (
              <Route key={path} path={path} element={<RequireUser><Screen /></RequireUser>} />
            ))}
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </Suspense>
      </main>
    </>
  );
}
