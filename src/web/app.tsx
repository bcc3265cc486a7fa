import { useEffect, useState, type ReactNode } from "react";
import { ApiError, get } from "./lib/api.js";
import { clearKey, getKey } from "./lib/session.js";
import { Link, navigate, usePath } from "./lib/router.js";
import type { Me } from "./lib/types.js";
import { homeFor, navFor } from "./nav.js";
import { Routes } from "./routes.js";
import { SignIn } from "./pages/sign-in.js";
import { ErrorBox, Loading } from "./components/ui.js";

/** The console: sign-in gate, role-aware navigation, and the page for the current path. */
export function App(): ReactNode {
  const [key, setKeyState] = useState(getKey());
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const path = usePath();

  useEffect(() => {
    if (!key) return;
    let live = true;
    get<Me>("/v1/me")
      .then((m) => {
        if (!live) return;
        setMe(m);
        if (path === "/" || path === "/sign-in") navigate(homeFor(m.role), true);
      })
      .catch((err: unknown) => {
        if (!live) return;
        if (err instanceof ApiError && err.status === 401) {
          clearKey();
          setKeyState(null);
          setNotice(err.detail);
        } else setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
      });
    return () => void (live = false);
  }, [key]);

  const signOut = (): void => {
    clearKey();
    setMe(null);
    setKeyState(null);
    setNotice("You are signed out.");
    navigate("/", true);
  };

  if (!key)
    return <SignIn notice={notice} onSignedIn={(k) => (setNotice(null), setError(null), setKeyState(k))} />;
  if (error)
    return (
      <main className="center">
        <ErrorBox error={error} what="your account" retry={() => location.reload()} />
      </main>
    );
  if (!me)
    return (
      <main className="center">
        <Loading what="your account" />
      </main>
    );

  const groups = navFor(me.role);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            Z
          </span>
          <span>Zumbido</span>
        </div>
        <nav aria-label="Main">
          {groups.map((g) => (
            <div key={g.title} className="nav-group">
              <div className="nav-title">{g.title}</div>
              {g.items.map((i) => {
                const active = path === i.to || (i.prefix !== undefined && path.startsWith(i.prefix));
                return (
                  <Link
                    key={i.to}
                    to={i.to}
                    className={active ? "active" : ""}
                    aria-current={active ? "page" : undefined}
                  >
                    {i.label}
                  </Link>
                );
              })}
            </div>
          ))}
        </nav>
        <div className="whoami">
          <div className="who-name">{me.name ?? (me.role === "admin" ? "Marketplace admin" : me.role)}</div>
          <div className="who-role">
            <span className="badge muted">{me.role}</span>
          </div>
          <button type="button" className="btn ghost small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </aside>
      <main id="main" className="main" tabIndex={-1}>
        <Routes me={me} path={path} />
      </main>
    </div>
  );
}
