//! 360dialog's Partner API over HTTP: its key and its users' tokens, users invited
//! and removed, the compliance view of the WABA's standing, channel lists (sorted,
//! then paged) and channel keys.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{
    Client, account_incident, assert_d360_error, d360_post, login, partner_token, start, trace,
};
use support::model::{T0, channel_list, partner, world};
use support::{
    ANA, EPOCH, PARTNER_ID, PARTNER_KEY, PARTNER_PASSWORD, PARTNER_USER, SPRING_SALE, US_KEY, WABA,
    template,
};
use wasim_sim::trace::fingerprint;

/// The partner's channels and users.
const CHANNELS: &str = "/api/v2/partners/wasimPA/channels";
const USERS: &str = "/api/v2/partners/wasimPA/users";

#[tokio::test]
async fn the_partner_api_key_authenticates_and_a_wrong_one_or_partner_is_refused() {
    let state = start();
    let keyed = Client::api_key(&state, PARTNER_KEY);
    let listed = keyed.get(CHANNELS).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json()["total"], 3);
    assert_eq!(listed.json()["partner_channels"][0]["id"], "wasimCH01");

    let wrong = Client::api_key(&state, "not_the_key").get(CHANNELS).await;
    assert_d360_error(&wrong, StatusCode::UNAUTHORIZED);
    assert!(!wrong.text().contains("wasimCH"), "{}", wrong.text());

    let other = keyed.get("/api/v2/partners/otherPA/channels").await;
    let message = assert_d360_error(&other, StatusCode::FORBIDDEN);
    assert!(message.contains("otherPA"), "{message}");
    let body = other.text();
    assert!(
        !body.contains("wasimCH") && !body.contains("partner_channels"),
        "{body}"
    );

    // The key itself never enters the trace.
    let (text, records) = trace(&state).await;
    assert!(!text.contains(PARTNER_KEY));
    let partner_requests: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "request" && r["surface"] == "partner")
        .collect();
    assert_eq!(partner_requests.len(), 3);
    assert_eq!(
        partner_requests[0]["credential"],
        fingerprint(PARTNER_KEY).as_str()
    );
}

#[tokio::test]
async fn partner_users_are_listed_invited_and_removed_and_a_removed_user_loses_access() {
    let state = start();
    let keyed = Client::api_key(&state, PARTNER_KEY);
    let token = partner_token(&state).await;

    let listed = Client::bearer(&state, &token).get(USERS).await;
    assert_eq!(listed.status, StatusCode::OK);
    let body = listed.json();
    assert_eq!(body["count"], 1, "{body}");
    let admin = &body["users"][0];
    assert_eq!(admin["email"], PARTNER_USER, "{body}");
    assert_eq!(admin["role"], "admin", "{body}");
    assert_eq!(admin["status"], "active", "{body}");
    let admin_id = admin["id"].as_str().expect("an id").to_owned();

    let invited = keyed
        .post(USERS, &json!({"email": "ops@wasim.test", "role": "member"}))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text());
    assert_eq!(invited.json()["status"], "invited");
    assert_eq!(invited.json()["email"], "ops@wasim.test");
    assert_eq!(invited.json()["role"], "member");
    let duplicate = keyed.post(USERS, &json!({"email": "ops@wasim.test"})).await;
    assert_d360_error(&duplicate, StatusCode::CONFLICT);
    let bad = keyed.post(USERS, &json!({"email": "not-an-email"})).await;
    let message = assert_d360_error(&bad, StatusCode::BAD_REQUEST);
    assert!(message.contains("email"), "{message}");
    let listed = keyed.get(USERS).await;
    assert_eq!(listed.json()["count"], 2);

    let missing = keyed.delete(&format!("{USERS}/wasimUS9999")).await;
    assert_d360_error(&missing, StatusCode::NOT_FOUND);

    let removed = keyed.delete(&format!("{USERS}/{admin_id}")).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    let stale = Client::bearer(&state, &token).get(CHANNELS).await;
    assert_d360_error(&stale, StatusCode::UNAUTHORIZED);
    assert_d360_error(
        &login(&state, PARTNER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    );
    let by_key = keyed.get(CHANNELS).await;
    assert_eq!(by_key.status, StatusCode::OK, "the partner key still works");
    let listed = keyed.get(USERS).await.json();
    let emails: Vec<&str> = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(emails, ["ops@wasim.test"], "{listed}");
}

#[tokio::test]
async fn the_compliance_view_reports_the_wabas_standing_and_unknown_wabas_are_404() {
    let state = start();
    let keyed = Client::api_key(&state, PARTNER_KEY);
    let path = format!("/api/v2/partners/{PARTNER_ID}/waba_accounts/{WABA}/compliance");
    let fresh = keyed.get(&path).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text());
    let view = fresh.json();
    assert_eq!(view["waba_id"], WABA, "{view}");
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["template_messaging"], "enabled", "{view}");
    assert_eq!(view["restrictions"], json!([]), "{view}");
    assert_eq!(view["violations"], json!([]), "{view}");
    assert_eq!(view["messaging_limit"], "TIER_10K", "{view}");
    assert_eq!(view["phone_numbers"].as_array().map(Vec::len), Some(3));

    for incident in [
        json!({"incident": "disable_templates"}),
        json!({"incident": "violation", "violation_type": "SCAM"}),
        json!({"incident": "restrict", "hours": 2}),
        json!({"incident": "terminate"}),
    ] {
        let answer = account_incident(&state, &incident).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{incident}: {}",
            answer.text()
        );
    }
    let view = keyed.get(&path).await.json();
    assert_eq!(view["status"], "terminated", "{view}");
    assert_eq!(view["template_messaging"], "disabled", "{view}");
    assert_eq!(view["violations"], json!(["SCAM"]), "{view}");
    assert_eq!(
        view["restrictions"][0]["restriction_type"], "RESTRICTED_BIZ_INITIATED_MESSAGING",
        "{view}"
    );
    assert_eq!(
        view["restrictions"][0]["expiration"],
        EPOCH + 2 * 3600,
        "{view}"
    );

    let unknown = keyed
        .get(&format!(
            "/api/v2/partners/{PARTNER_ID}/waba_accounts/999/compliance"
        ))
        .await;
    let message = assert_d360_error(&unknown, StatusCode::NOT_FOUND);
    assert!(message.contains("999"), "{message}");
}

#[tokio::test]
async fn a_partner_script_lists_channels_rotates_a_key_and_sends_with_the_new_one() {
    let state = start();
    let token = partner_token(&state).await;
    let listed = Client::bearer(&state, &token).get(CHANNELS).await;
    let channel = listed.json()["partner_channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["setup_info"]["phone_number"] == "15550100001")
        .expect("the US channel")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let rotated = Client::api_key(&state, PARTNER_KEY)
        .post_empty(&format!("{CHANNELS}/{channel}/api_keys"))
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text());
    let new_key = rotated.string("/api_key");
    let old = d360_post(&state, Some(US_KEY), &template(ANA, SPRING_SALE)).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        old.text(),
        r#"{"meta":{"success":false,"http_code":401,"developer_message":"Invalid api_key"}}"#
    );
    let new = d360_post(&state, Some(&new_key), &template(ANA, SPRING_SALE)).await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text());
    assert!(
        new.json()["messages"][0]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("wamid."))
    );
    let (text, _) = trace(&state).await;
    assert!(!text.contains(&new_key) && !text.contains(&token));
}

#[tokio::test]
async fn the_partner_api_authenticates_before_it_validates_a_body() {
    let state = start();
    let answer = Client::api_key(&state, "not_the_key")
        .post(USERS, &json!({"email": "not-an-email"}))
        .await;
    assert_d360_error(&answer, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn inviting_an_existing_email_through_the_control_api_adds_no_duplicate() {
    let state = start();
    let keyed = Client::api_key(&state, PARTNER_KEY);
    let invite = json!({"incident": "invite_partner_user", "email": PARTNER_USER});
    let answer = account_incident(&state, &invite).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text());
    let message = answer.json()["error"]["message"].to_string();
    assert!(
        message.contains(PARTNER_USER),
        "the refusal names the email: {message}"
    );
    let users = keyed.get(USERS).await.json();
    let with_email = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["email"] == PARTNER_USER)
        .count();
    assert_eq!(with_email, 1, "{users}");
}

#[test]
fn channel_lists_sort_by_a_field_path_either_way_and_page_after_sorting() {
    let mut world = world();
    let numbers = |body: &Value| -> Vec<String> {
        body["partner_channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| {
                c["setup_info"]["phone_number"]
                    .as_str()
                    .expect("number")
                    .to_owned()
            })
            .collect()
    };
    let (status, ascending) = partner(&mut world, T0, channel_list("setup_info.phone_number", 20));
    assert_eq!(status, 200);
    assert_eq!(
        numbers(&ascending),
        ["15550100001", "4930901820", "902125550101"]
    );
    let (_, descending) = partner(&mut world, T0, channel_list("-setup_info.phone_number", 1));
    assert_eq!(
        numbers(&descending),
        ["902125550101"],
        "sorted, then the first page"
    );
    assert_eq!(descending["total"], 3);
    assert_eq!(descending["sort"], json!(["-setup_info.phone_number"]));
}
