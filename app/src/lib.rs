//! The Leptos application: pages, components and the types both the WASM client and the
//! server speak. Server-only code never lands here unless it sits behind `feature = "ssr"`.

#[cfg(feature = "ssr")]
pub mod backend;
pub mod error;
pub mod forms;
mod guard;
pub mod model;
pub mod next_path;
pub mod pages;
pub mod session;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod sync;
mod time;

use model::Role;
use session::{Session, use_session};

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around every server-rendered page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                // Both name the build's content-hashed files when it wrote them.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true islands_router=true/>
                // Passkey ceremonies (see `pages::passkeys`); its handlers are delegated
                // from the document, so pages patched in by the islands router work too.
                <script type="module" src="/passkeys.js"></script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The WASM entry: hydrates the islands on the page (everything else is server-rendered
/// HTML that needs no client code).
#[cfg(feature = "hydrate")]
pub fn hydrate_islands() {
    leptos::mount::hydrate_islands();
}

/// Pages render on the server. With JavaScript, the islands router turns links and plain
/// forms into fetches whose HTML is patched into the page, leaving the islands (`#[island]`,
/// the parts that run in the browser) running; without it they are ordinary page loads.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Session::provide();

    view! {
        <Title formatter=|page: String| if page.is_empty() { "Gatehouse".to_owned() } else { format!("{page} · Gatehouse") }/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="site-header">
                <a class="brand" href="/">"Gatehouse"</a>
                <Navigation/>
            </header>
            // Async: the whole page is rendered before the first byte, so it is complete
            // without JavaScript and any cookie renewed while rendering reaches the browser.
            <main id="main" tabindex="-1">
                <Routes fallback=pages::home::NotFound>
                    <Route path=StaticSegment("") ssr=SsrMode::Async view=|| view! { <Title text=""/><pages::home::HomePage/> }/>
                    <Route path=StaticSegment("login") ssr=SsrMode::Async view=|| view! { <Title text="Sign in"/><pages::sign_in::LoginPage/> }/>
                    <Route path=StaticSegment("logout") ssr=SsrMode::Async view=|| view! { <Title text="Sign out"/><pages::sign_in::SignOutPage/> }/>
                    <Route path=path!("login/email-code") ssr=SsrMode::Async view=|| view! { <Title text="Sign in with a code"/><pages::email_code::EmailCodePage/> }/>
                    <Route path=path!("login/code") ssr=SsrMode::Async view=|| view! { <Title text="Two-step sign-in"/><pages::two_step::CodePage/> }/>
                    <Route path=path!("login/with/:provider") ssr=SsrMode::Async view=|| view! { <Title text="Sign in with another provider"/><pages::providers::ProviderStartPage/> }/>
                    <Route path=path!("login/with/:provider/callback") ssr=SsrMode::Async view=|| view! { <Title text="Sign in with another provider"/><pages::providers::ProviderCallbackPage/> }/>
                    <Route path=path!("account/passkeys") ssr=SsrMode::Async view=|| view! { <Title text="Passkeys"/><pages::passkeys::PasskeysPage/> }/>
                    <Route path=path!("account/two-step") ssr=SsrMode::Async view=|| view! { <Title text="Two-step sign-in"/><pages::two_step::TwoStepPage/> }/>
                    <Route path=StaticSegment("signup") ssr=SsrMode::Async view=|| view! { <Title text="Create an account"/><pages::sign_in::SignupPage/> }/>
                    <Route path=StaticSegment("dashboard") ssr=SsrMode::Async view=|| view! { <Title text="Dashboard"/><pages::dashboard::DashboardPage/> }/>
                    <Route path=StaticSegment("sessions") ssr=SsrMode::Async view=|| view! { <Title text="Your devices"/><pages::sessions::SessionsPage/> }/>
                    <Route path=StaticSegment("account") ssr=SsrMode::Async view=|| view! { <Title text="Your account"/><pages::account::AccountPage/> }/>
                    <Route path=StaticSegment("forgot-password") ssr=SsrMode::Async view=|| view! { <Title text="Forgot your password?"/><pages::recovery::ForgotPasswordPage/> }/>
                    <Route path=StaticSegment("reset-password") ssr=SsrMode::Async view=|| view! { <Title text="Choose a new password"/><pages::recovery::ResetPasswordPage/> }/>
                    <Route path=StaticSegment("verify-email") ssr=SsrMode::Async view=|| view! { <Title text="Confirm your email address"/><pages::recovery::VerifyEmailPage/> }/>
                    <Route path=StaticSegment("admin") ssr=SsrMode::Async view=|| view! { <Title text="Administration"/><pages::admin::AdminPage/> }/>
                    <Route path=path!("oauth2/authorize") ssr=SsrMode::Async view=|| view! { <Title text="Sign in to an app"/><pages::authorize::AuthorizePage/> }/>
                    <Route path=path!("oauth2/logout") ssr=SsrMode::Async view=|| view! { <Title text="Sign out"/><pages::authorize::EndSessionPage/> }/>
                    <Route path=path!("admin/forward-auth") ssr=SsrMode::Async view=|| view! { <Title text="Forward-auth rules"/><pages::forward_rules::ForwardRulesPage/> }/>
                    <Route path=path!("admin/providers") ssr=SsrMode::Async view=|| view! { <Title text="Providers"/><pages::provider_admin::ProvidersAdminPage/> }/>
                    <Route path=path!("admin/apps") ssr=SsrMode::Async view=|| view! { <Title text="Apps"/><pages::oidc_clients::AppsAdminPage/> }/>
                </Routes>
            </main>
        </Router>
    }
}

/// Links for the signed-in user; the admin link only for admins. The session keeper
/// comes with it, on every page, told who (if anyone) the server saw signed in.
#[component]
fn Navigation() -> impl IntoView {
    let session = use_session();
    view! {
        <nav aria-label="Main">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.viewer.await {
                        Ok(Some(viewer)) => {
                            let who = viewer.user.username.clone();
                            view! {
                            <a href="/dashboard">"Dashboard"</a>
                            <a href="/sessions">"Devices"</a>
                            <a href="/account">"Account"</a>
                            <sync::AdminLink shown=viewer.user.role == Role::Admin/>
                            <a href="/docs/">"API docs"</a>
                            <ActionForm action=session.logout attr:class="inline-form" attr:data-sign-out="">
                                <button type="submit" class="link-button">
                                    "Sign out " <span class="who">{who}</span>
                                </button>
                            </ActionForm>
                            <sync::SessionKeeper viewer=Some(viewer)/>
                        }.into_any()
                        }
                        _ => view! {
                            <a href="/docs/">"API docs"</a>
                            <a href="/login">"Sign in"</a>
                            <a href="/signup" class="button-link">"Create account"</a>
                            <sync::SessionKeeper viewer=None/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </nav>
    }
}
