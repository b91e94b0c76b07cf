//! Query parameters of resource requests (Kubernetes `ListOptions`, `CreateOptions`, `PatchOptions`,
//! `DeleteOptions` as query strings), form-decoded (`+` is a space, as kubectl encodes them).
//! Unknown parameters (`timeout`, `propagationPolicy`, ...) are accepted and ignored.

use super::error::ApiError;
use axum::extract::Query;
use axum::http::Uri;

/// `fieldValidation`: what to do with unknown or duplicate fields in a request body (Kubernetes
/// API concepts, "Field validation").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Reject with 400 BadRequest naming every offending field (what kubectl sends by default).
    Strict,
    /// Accept, drop the unknown fields, and send one `Warning` header per field. Kubernetes' default
    /// when the parameter is absent.
    Warn,
    /// Accept and drop unknown fields silently.
    Ignore,
}

/// `includeObject` on Table requests: what each row's `object` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` with the full `metadata` (the default).
    Metadata,
    /// The full object (`kubectl get --sort-by` asks for it).
    Object,
}

/// The query parameters the API acts on.
#[derive(Debug, Clone)]
pub struct Params {
    /// `watch=true|1`: stream changes instead of listing.
    pub watch: bool,
    /// `resourceVersion`: for watch, the revision to resume after (`None` for absent or empty).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`: `NotOlderThan` or `Exact`. Lists show the live state, which is not
    /// older than any revision the server answered; `Exact` is served only at the current
    /// revision ([`super::crud::list`]).
    pub resource_version_match: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit`: the most items per list page (0 or absent: everything).
    pub limit: Option<usize>,
    /// `continue`: the token of the next list page.
    pub continue_token: Option<String>,
    /// `timeoutSeconds`: how long a watch stays open.
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks=true`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents=true` (streaming lists): synthetic ADDED events for the current state
    /// whatever the resourceVersion, then a BOOKMARK annotated `k8s.io/initial-events-end`.
    pub send_initial_events: bool,
    /// `dryRun=All`: run everything but the store write.
    pub dry_run: bool,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `includeObject` (Table output only).
    pub include_object: IncludeObject,
    /// `fieldManager` (`None` when absent or empty): required on server-side apply (see
    /// `patch::patch`), otherwise recorded nowhere.
    pub field_manager: Option<String>,
    /// `force=true` on server-side apply (accepted; see `patch::apply`).
    pub force: bool,
    /// `gracePeriodSeconds` on DELETE (the `DeleteOptions` body's value wins when both are given).
    pub grace_period_seconds: Option<u64>,
    /// `container` on `pods/{name}/log`.
    pub container: Option<String>,
    /// `tailLines` on `pods/{name}/log`: only the last lines.
    pub tail_lines: Option<u64>,
    /// `previous=true` on `pods/{name}/log`: the previous instance of a restarted container.
    pub previous: bool,

    /// `follow=true` on `pods/{name}/log`: keep streaming.
    pub follow: bool,
}

impl Params {
    /// Reads the parameters of `uri`.
    ///
    /// # Errors
    /// 400 BadRequest for an undecodable query string; an invalid `dryRun`, `fieldValidation`,
    /// `includeObject`, `limit`, `timeoutSeconds`, `resourceVersion` (not a non-negative integer),
    /// `resourceVersionMatch` or `watch` (not a boolean) value; `resourceVersionMatch` without
    /// `resourceVersion` (or on a watch); `sendInitialEvents=true` without
    /// `allowWatchBookmarks=true`.
    pub fn from_uri(uri: &Uri) -> Result<Params, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        let mut p = Params {
            watch: false,
            resource_version: None,
            resource_version_match: None,
            label_selector: None,
            field_selector: None,
            limit: None,
            continue_token: None,
            timeout_seconds: None,
            allow_watch_bookmarks: false,
            send_initial_events: false,
            dry_run: false,
            field_validation: FieldValidation::Warn,
            include_object: IncludeObject::Metadata,
            field_manager: None,
            force: false,
            grace_period_seconds: None,
            container: None,
            tail_lines: None,
            previous: false,
            follow: false,
        };
        for (k, v) in pairs {
            let non_empty = || if v.is_empty() { None } else { Some(v.clone()) };
            match k.as_str() {
                "watch" => p.watch = parse_bool("watch", &v)?,
                "resourceVersion" => {
                    parse_num("resourceVersion", &v)?;
                    p.resource_version = non_empty();
                }
                "resourceVersionMatch" => {
                    p.resource_version_match = match v.as_str() {
                        "" => None,
                        "NotOlderThan" | "Exact" => Some(v.clone()),
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "invalid resourceVersionMatch: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                            )));
                        }
                    }
                }
                "labelSelector" => p.label_selector = non_empty(),
                "fieldSelector" => p.field_selector = non_empty(),
                "limit" => p.limit = parse_num("limit", &v)?.map(|n| n as usize),
                "continue" => p.continue_token = non_empty(),
                "timeoutSeconds" => p.timeout_seconds = parse_num("timeoutSeconds", &v)?,
                "allowWatchBookmarks" => p.allow_watch_bookmarks = is_true(&v),
                "sendInitialEvents" => p.send_initial_events = is_true(&v),
                "force" => p.force = is_true(&v),
                "fieldManager" => p.field_manager = non_empty(),
                "gracePeriodSeconds" => {
                    p.grace_period_seconds = parse_num("gracePeriodSeconds", &v)?;
                }
                "container" => p.container = non_empty(),
                "tailLines" => p.tail_lines = parse_num("tailLines", &v)?,
                "previous" => p.previous = is_true(&v),

                "follow" => p.follow = is_true(&v),
                "dryRun" => match v.as_str() {
                    "All" => p.dry_run = true,
                    "" => {}
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "Invalid dry run value: {other}: supported values: \"All\""
                        )));
                    }
                },
                "fieldValidation" => {
                    p.field_validation = match v.as_str() {
                        "Strict" => FieldValidation::Strict,
                        "Warn" | "" => FieldValidation::Warn,
                        "Ignore" => FieldValidation::Ignore,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "invalid fieldValidation directive: {other}: supported values: \"Ignore\", \"Warn\", \"Strict\""
                            )));
                        }
                    }
                }
                "includeObject" => {
                    p.include_object = match v.as_str() {
                        "None" => IncludeObject::None,
                        "Metadata" | "" => IncludeObject::Metadata,
                        "Object" => IncludeObject::Object,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "invalid includeObject value: {other}"
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        p.check_list_options()?;
        Ok(p)
    }

    /// Kubernetes' `ValidateListOptions` rules on combinations of list and watch parameters.
    fn check_list_options(&self) -> Result<(), ApiError> {
        if self.send_initial_events {
            if !self.allow_watch_bookmarks {
                return Err(ApiError::bad_request(
                    "sendInitialEvents is forbidden for watch unless allowWatchBookmarks=true: \
                     the end of the initial events is signalled by a bookmark",
                ));
            }
            return Ok(());
        }
        match self.resource_version_match.as_deref() {
            None => Ok(()),
            Some(_) if self.watch => Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden for watch",
            )),
            Some(_) if self.resource_version.is_none() => Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )),
            Some("Exact") if self.resource_version.as_deref() == Some("0") => {
                Err(ApiError::bad_request(
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
                ))
            }
            Some(_) => Ok(()),
        }
    }
}

/// A boolean parameter as Go's `strconv.ParseBool` reads it (empty is false).
fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "" | "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
        other => Err(ApiError::bad_request(format!(
            "invalid {name}: {other:?} is not a boolean (true, false, 1 or 0)"
        ))),
    }
}

fn is_true(v: &str) -> bool {
    matches!(v, "true" | "1" | "True")
}

fn parse_num(name: &str, v: &str) -> Result<Option<u64>, ApiError> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "invalid {name}: {v:?} is not a non-negative integer"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Result<Params, ApiError> {
        let uri: Uri = format!("/api/v1/pods?{q}").parse().expect("uri");
        Params::from_uri(&uri)
    }

    #[test]
    fn from_uri_should_form_decode_selectors() {
        let p = params("labelSelector=app+in+%28web%2Cdb%29%2Capp%21%3Ddb&limit=500&timeout=32s")
            .expect("ok");
        assert_eq!(p.label_selector.as_deref(), Some("app in (web,db),app!=db"));
        assert_eq!(p.limit, Some(500));
        assert_eq!(p.field_validation, FieldValidation::Warn);
    }

    #[test]
    fn from_uri_should_read_watch_options() {
        let p = params("allowWatchBookmarks=true&fieldSelector=metadata.name%3Dx&resourceVersion=12&timeoutSeconds=468&watch=1")
            .expect("ok");
        assert!(p.watch && p.allow_watch_bookmarks);
        assert_eq!(
            (p.resource_version.as_deref(), p.timeout_seconds),
            (Some("12"), Some(468))
        );
        assert_eq!(
            params("resourceVersion=&watch=true")
                .expect("ok")
                .resource_version,
            None
        );
    }

    #[test]
    fn from_uri_should_reject_bad_directives() {
        assert_eq!(params("dryRun=Some").map(|_| ()).unwrap_err().code(), 400);
        assert_eq!(
            params("fieldValidation=Loose")
                .map(|_| ())
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(params("limit=x").map(|_| ()).unwrap_err().code(), 400);
        let p = params("dryRun=All&fieldValidation=Strict&includeObject=Object&force=true")
            .expect("ok");
        assert!(p.dry_run && p.force);
        assert_eq!(
            (p.field_validation, p.include_object),
            (FieldValidation::Strict, IncludeObject::Object)
        );
    }
}
