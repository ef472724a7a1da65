//! The form kit: labelled fields with their errors, the messages a form shows, and the
//! one URL encoder for values put into links.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{error::AppError, model::ErrorCode};

/// Encodes `value` for a query string (RFC 3986: everything but letters and digits).
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

/// The query that brings a refused plain form back as it was typed: its text fields,
/// its ticked boxes, and the name of the field `refused` names (a name, never a
/// message, goes into a URL). A URL is no place for a pasted megabyte: past 4 KiB of
/// text, the text fields come back empty.
pub fn refused_form_query(
    texts: &[(&str, &str)],
    ticked: &[(&str, bool)],
    refused: &AppError,
) -> Vec<String> {
    const MAX_ECHOED_CHARS: usize = 4096;
    let mut query: Vec<String> = texts
        .iter()
        .map(|(name, value)| format!("{name}={}", encode_query_value(value)))
        .collect();
    if query.iter().map(String::len).sum::<usize>() > MAX_ECHOED_CHARS {
        query.clear();
    }
    query.extend(
        ticked
            .iter()
            .filter(|(_, ticked)| *ticked)
            .map(|(name, _)| format!("{name}=on")),
    );
    if let Some(field) = refused.field.as_deref().filter(|field| {
        field
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte == b'_')
    }) {
        query.push(format!("field={field}"));
    }
    query
}

/// A labelled box of a plain form. An unticked box sends nothing, so the server reads
/// a missing name as "no".
#[component]
pub fn Checkbox(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    #[prop(optional)] checked: bool,
) -> impl IntoView {
    view! {
        <div class="field checkbox">
            <input id=id name=name type="checkbox" checked=checked/>
            <label for=id>{label}</label>
        </div>
    }
}

/// A labelled input whose error, if any, is tied to it for assistive technology.
#[component]
pub fn Field(
    #[prop(into)] name: String,
    #[prop(into)] label: String,
    #[prop(into, default = "text".to_owned())] kind: String,
    #[prop(into, default = String::new())] autocomplete: String,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional)] required: bool,
    /// What the field starts with (a value carried in the page's URL).
    #[prop(default = None)]
    value: Option<String>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let described_by = error_id.clone();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=move || error.get().map(|_| described_by.clone())
            />
            <Show when=move || error.get().is_some()>
                <p class="field-error" id=error_id.clone()>{move || error.get()}</p>
            </Show>
        </div>
    }
}

/// The message for the `error` query parameter a plain form post came back with.
pub fn query_error() -> Option<String> {
    use_query_map().read_untracked().get("error").map(|code| {
        ErrorCode::parse(&code)
            .unwrap_or(ErrorCode::Internal)
            .message()
            .to_owned()
    })
}

/// What a form's server action answered, as messages: each field's own, and the one for
/// the form as a whole. Before any answer, the form-wide message is the error a plain
/// (JavaScript-less) post came back with.
#[derive(Clone)]
pub struct FormErrors<T: Send + Sync + 'static> {
    returned: Signal<Option<Result<T, AppError>>>,
    returned_error: Option<String>,
}

impl<T: Clone + Send + Sync + 'static> FormErrors<T> {
    /// `returned`: the action's `value()`.
    pub fn new(
        returned: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
        returned_error: Option<String>,
    ) -> Self {
        FormErrors {
            returned: Signal::derive(move || returned.get()),
            returned_error,
        }
    }

    pub fn field(&self, name: &'static str) -> Signal<Option<String>> {
        let returned = self.returned;
        Signal::derive(move || {
            returned
                .get()
                .and_then(Result::err)
                .and_then(|error| error.for_field(name))
        })
    }

    /// The form-wide message; `with_field_messages` also shows here what a field claims
    /// (for forms that show no message beside their fields).
    pub fn general(&self, with_field_messages: bool) -> Option<String> {
        match self.returned.get() {
            Some(Err(error)) if with_field_messages => {
                Some(error.general().unwrap_or_else(|| error.message.clone()))
            }
            Some(Err(error)) => error.general(),
            Some(Ok(_)) => None,
            None => self.returned_error.clone(),
        }
    }

    /// The form-wide message, if any, as an alert.
    pub fn alert(self, with_field_messages: bool) -> impl IntoView {
        move || {
            self.general(with_field_messages)
                .map(|text| view! { <p class="form-error" role="alert">{text}</p> })
        }
    }
}

/// Shows the error a plain (JavaScript-less) form post came back with, if any.
#[component]
pub fn QueryError() -> impl IntoView {
    query_error().map(|text| view! { <p class="form-error" role="alert">{text}</p> })
}
