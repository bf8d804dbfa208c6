/** The site's routes. Signed-in pages sit under RequireUser; admin pages also under RequireAdmin. */
import { Navigate, Route, Router } from "@solidjs/router";
import { AppShell } from "./components/AppShell.tsx";
import { RequireUser } from "./components/RequireUser.tsx";
import { AdminAuditPage } from "./pages/AdminAuditPage.tsx";
import { AdminBridgesPage } from "./pages/AdminBridgesPage.tsx";
import { AdminDesktopSessionsPage } from "./pages/AdminDesktopSessionsPage.tsx";
import { AdminDesktopSettingsPage } from "./pages/AdminDesktopSettingsPage.tsx";
import { AdminDesktopTemplatesPage } from "./pages/AdminDesktopTemplatesPage.tsx";
import { AdminImagesPage } from "./pages/AdminImagesPage.tsx";
import { AdminLayout } from "./pages/AdminLayout.tsx";
import { AdminMeetingSettingsPage } from "./pages/AdminMeetingSettingsPage.tsx";
import { AdminUsersPage } from "./pages/AdminUsersPage.tsx";
import { ChangePasswordPage } from "./pages/ChangePasswordPage.tsx";
import { DesktopsPage } from "./pages/DesktopsPage.tsx";
import { DesktopViewerPage } from "./pages/DesktopViewerPage.tsx";
import { LoginPage } from "./pages/LoginPage.tsx";
import { MeetingPage } from "./pages/MeetingPage.tsx";
import { MeetingSetupPage } from "./pages/MeetingSetupPage.tsx";
import { NotFoundPage } from "./pages/NotFoundPage.tsx";
import { RegisterPage } from "./pages/RegisterPage.tsx";
import { SettingsPage } from "./pages/SettingsPage.tsx";
import { SharedDesktopPage } from "./pages/SharedDesktopPage.tsx";
import { TeamPage } from "./pages/TeamPage.tsx";
import { TeamsPage } from "./pages/TeamsPage.tsx";

export function App() {
  return (
    <Router root={AppShell}>
      <Route path="/login" component={LoginPage} />
      <Route path="/register" component={RegisterPage} />
      <Route path="/" component={RequireUser}>
        <Route path="/" component={() => <Navigate href="/teams" />} />
        <Route path="/teams" component={TeamsPage} />
        <Route path="/teams/:teamId" component={TeamPage} />
        <Route path="/teams/:teamId/meetings/new" component={MeetingSetupPage} />
        <Route path="/meetings/:meetingId" component={MeetingPage} />
        <Route path="/desktops" component={DesktopsPage} />
        <Route path="/desktops/shared" component={SharedDesktopPage} />
        <Route path="/desktops/:id" component={DesktopViewerPage} />
        <Route path="/settings" component={SettingsPage} />
        <Route path="/account/password" component={ChangePasswordPage} />
        <Route path="/admin" component={AdminLayout}>
          <Route path="/" component={() => <Navigate href="/admin/users" />} />
          <Route path="/users" component={AdminUsersPage} />
          <Route path="/audit" component={AdminAuditPage} />
          <Route path="/meeting-settings" component={AdminMeetingSettingsPage} />
          <Route path="/desktop-templates" component={AdminDesktopTemplatesPage} />
          <Route path="/images" component={AdminImagesPage} />
          <Route path="/desktop-settings" component={AdminDesktopSettingsPage} />
          <Route path="/bridges" component={AdminBridgesPage} />
          <Route path="/desktop-sessions" component={AdminDesktopSessionsPage} />
        </Route>
      </Route>
      <Route path="*" component={NotFoundPage} />
    </Router>
  );
}
