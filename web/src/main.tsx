import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";

import App from "./App";
import { AuthProvider, loadStartingUser } from "./lib/auth";
import { LangProvider } from "./lib/i18n";
import { preloadScreen } from "./routes";
import "./styles.css";

// The first load asks for the signed-in user and the opened screen's code at once, before React
// renders anything (the screen itself waits for the user, see RequireUser).
loadStartingUser();
preloadScreen(window.location.pathname);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LangProvider>
      <BrowserRouter>
        <AuthProvider>
          <App />
        </AuthProvider>
      </BrowserRouter>
    </LangProvider>
  </StrictMode>,
);
