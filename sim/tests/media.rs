//! Media (issue 20): uploads, reads, downloads and deletes, on the model and over
//! the wire, and media users send. Sources: Meta's media reference
//! (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media/>),
//! its supported types and sizes
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types>)
//! and the inbound message webhook references.

mod support;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use support::http::{
    self, Answer, assert_graph_error, control_ok, control_post, start, start_with,
};
use support::model::{
    ANA_BR, PRIYA_IN, T0, US_NUMBER, accepted, hours, inbound_text, meta_values, outcome, seconds,
    send_from, template_body, world, world_with,
};
use support::{DE_KEY, DE_PHONE, TOKEN, US_KEY, US_PHONE};
use wasim_sim::model::media::{
    self, MediaCredential, MediaUpload, MediaUrlQuery, UploadedFile, media_kind_accepts,
};
use wasim_sim::model::secret::Secret;
use wasim_sim::model::{
    Command, Effect, InboundContent, MediaKind, PhoneNumberId, Refusal, Reply, SimTime, Surface,
    World, WorldSpec,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A complete upload form: `messaging_product`, `type` and a file of `mime`.
fn form(mime: &str, bytes: &[u8]) -> MediaUpload {
    MediaUpload {
        messaging_product: Some("whatsapp".to_owned()),
        media_type: Some(mime.to_owned()),
        file: Some(UploadedFile {
            content_type: Some(mime.to_owned()),
            filename: Some("file".to_owned()),
            bytes: bytes::Bytes::copy_from_slice(bytes),
        }),
    }
}

/// Uploads `form` to the US number with the world's token at `at`.
fn upload_form(world: &mut World, at: SimTime, form: MediaUpload) -> Result<Reply, Refusal> {
    world
        .apply(
            at,
            Command::UploadMedia {
                surface: Surface::Graph,
                credential: Some(Secret::from(TOKEN)),
                phone_number_id: Some(PhoneNumberId::from(US_NUMBER)),
                upload: Ok(form),
            },
        )
        .reply
}

/// Uploads a file of `mime`; its media id (fails the test on a refusal).
fn uploaded(world: &mut World, at: SimTime, mime: &str, bytes: &[u8]) -> String {
    match upload_form(world, at, form(mime, bytes)) {
        Ok(Reply::MediaUploaded(id)) => id.into_string(),
        other => panic!("expected an upload, got {other:?}"),
    }
}

/// The platform error of a refusal: (code, HTTP status, message as Graph writes
/// it after `(#code)`, details).
fn platform(reply: Result<Reply, Refusal>) -> (u32, u16, String, String) {
    match reply {
        Err(Refusal::Platform(error)) => {
            let status = error.http_status();
            (error.code, status, error.title, error.details)
        }
        other => panic!("expected a platform error, got {other:?}"),
    }
}

/// `GET /{id}` with the token (and `?phone_number_id=` if given).
fn get(world: &mut World, at: SimTime, id: &str, phone: Option<&str>) -> Result<Reply, Refusal> {
    world
        .apply(
            at,
            Command::GetObject {
                credential: Some(Secret::from(TOKEN)),
                id: id.to_owned(),
                fields: Default::default(),
                phone_number_id: phone.map(PhoneNumberId::from),
            },
        )
        .reply
}

/// The download query `GET /{id}` answers at `at`.
fn url_query(world: &mut World, at: SimTime, id: &str) -> MediaUrlQuery {
    let Ok(Reply::Media(info)) = get(world, at, id, None) else {
        panic!("media {id} is readable");
    };
    let mut query = MediaUrlQuery::default();
    for pair in info.url_query.split('&') {
        let (key, value) = pair.split_once('=').expect("key=value");
        let value = Some(value.to_owned());
        match key {
            "mid" => query.mid = value,
            "ext" => query.ext = value,
            "hash" => query.hash = value,
            other => panic!("unexpected query key {other}"),
        }
    }
    query
}

fn download(
    world: &mut World,
    at: SimTime,
    credential: Option<MediaCredential>,
    query: MediaUrlQuery,
) -> Result<Reply, Refusal> {
    world
        .apply(at, Command::DownloadMedia { credential, query })
        .reply
}

fn bearer() -> Option<MediaCredential> {
    Some(MediaCredential::Bearer(Secret::from(TOKEN)))
}

/// An inbound message of `content` from Ana: its effects (fails on a refusal).
fn inbound(world: &mut World, at: SimTime, content: InboundContent) -> Vec<Effect> {
    let outcome = world.apply(
        at,
        Command::Inbound {
            from: ANA_BR.into(),
            content,
            phone_number_id: None,
            context: None,
        },
    );
    assert!(outcome.reply.is_ok(), "{:?}", outcome.reply);
    outcome.effects
}

/// Inbound content as the control API reads it.
fn content(json: Value) -> InboundContent {
    InboundContent::from_json(json.as_object().expect("an object")).expect("valid content")
}

/// The one inbound message of a `messages` webhook among `effects`.
fn message_of(effects: &[Effect]) -> Value {
    let values = meta_values(effects, "messages");
    assert_eq!(values.len(), 1, "one messages webhook: {values:?}");
    values[0]["messages"][0].clone()
}

/// The message of an inbound `content` (as the control API reads it) from Ana at T0.
fn inbound_message(world: &mut World, content_json: Value) -> Value {
    message_of(&inbound(world, T0, content(content_json)))
}

/// The 12 bytes of an MP4 header, enough to upload as `video/mp4`.
const MP4: &[u8] = b"\0\0\0\x18ftypmp42";

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0 not really a jpeg \xFF\xD9";

// ---------------------------------------------------------------------------
// The model: uploads
// ---------------------------------------------------------------------------

#[test]
fn an_upload_is_stored_with_its_type_size_hash_and_number() {
    let mut world = world();
    let id = uploaded(&mut world, T0, "image/jpeg", JPEG);
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0'));
    let media = world.media(&id).expect("stored");
    assert_eq!(media.mime_type, "image/jpeg");
    assert_eq!(media.kind, MediaKind::Image);
    assert_eq!(media.file_size, JPEG.len() as u64);
    assert_eq!(media.sha256, media::sha256_hex(JPEG));
    assert_eq!(media.phone_number_id, US_NUMBER);
    assert_eq!(media.bytes().as_ref(), JPEG);
    assert_eq!(world.media_bytes_total(), JPEG.len() as u64);
}

#[test]
fn the_same_seed_gives_the_same_media_ids_and_another_seed_others() {
    let ids = |seed: u64| {
        let mut world = World::new(WorldSpec::default(), Some(seed), None).expect("builds");
        (0..5)
            .map(|_| uploaded(&mut world, T0, "application/pdf", b"%PDF-1.4"))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(7), ids(7));
    assert_ne!(ids(7), ids(8));
    let mut unique = ids(7);
    unique.dedup();
    assert_eq!(unique.len(), 5, "ids are distinct");
}

#[test]
fn missing_form_fields_are_refused_with_100_naming_the_parameter() {
    let mut world = world();
    let full = form("image/jpeg", JPEG);
    let cases = [
        (
            MediaUpload {
                messaging_product: None,
                ..full.clone()
            },
            "The parameter messaging_product is required.",
        ),
        (
            MediaUpload {
                messaging_product: Some("sms".to_owned()),
                ..full.clone()
            },
            "Param messaging_product must be 'whatsapp', got 'sms'.",
        ),
        (
            MediaUpload {
                file: None,
                ..full.clone()
            },
            "The parameter file is required",
        ),
        (
            MediaUpload {
                media_type: None,
                ..full.clone()
            },
            "The parameter type is required.",
        ),
    ];
    for (upload, expected) in cases {
        let (code, status, message, _) = platform(upload_form(&mut world, T0, upload));
        assert_eq!((code, status), (100, 400));
        assert!(message.starts_with(expected), "{message}");
    }
    assert_eq!(world.media_all().count(), 0, "nothing was stored");
}

#[test]
fn an_unsupported_type_is_refused_with_100_listing_the_types_and_the_one_received() {
    let mut world = world();
    let (code, status, message, _) =
        platform(upload_form(&mut world, T0, form("image/gif", b"GIF89a")));
    assert_eq!((code, status), (100, 400));
    assert!(
        message.starts_with("Param file must be a file with one of the following types: audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg, audio/opus, application/vnd.ms-powerpoint, application/msword,"),
        "{message}"
    );
    assert!(
        message.ends_with("Received file of type 'image/gif'."),
        "{message}"
    );
    // The file part's own type is checked: a part without one is octet-stream,
    // whatever `type` says.
    let mut untyped = form("image/png", b"\x89PNG");
    if let Some(file) = &mut untyped.file {
        file.content_type = None;
    }
    let (code, _, message, _) = platform(upload_form(&mut world, T0, untyped));
    assert_eq!(code, 100);
    assert!(
        message.ends_with("Received file of type 'application/octet-stream'."),
        "{message}"
    );
}

#[test]
fn a_file_over_its_kind_s_limit_or_empty_is_refused_with_131053() {
    let mut world = world();
    let big = vec![0u8; (media::IMAGE_BYTES_MAX + 1) as usize];
    let (code, status, title, details) =
        platform(upload_form(&mut world, T0, form("image/png", &big)));
    assert_eq!(
        (code, status, title.as_str()),
        (131_053, 400, "Media upload error")
    );
    assert!(
        details.contains(&media::IMAGE_BYTES_MAX.to_string()),
        "{details}"
    );
    let exactly = vec![0u8; media::IMAGE_BYTES_MAX as usize];
    uploaded(&mut world, T0, "image/png", &exactly);
    let (code, _, _, details) = platform(upload_form(&mut world, T0, form("image/png", b"")));
    assert_eq!(code, 131_053);
    assert!(details.contains("empty"), "{details}");
}

#[test]
fn a_static_sticker_takes_100_kib_and_an_animated_one_500_kib() {
    let mut world = world();
    let sized = |animated: bool, size: u64| {
        let mut webp = media::placeholder("image/webp", animated);
        webp.resize(size as usize, 0);
        webp
    };
    let over_static = sized(false, media::STICKER_BYTES_MAX + 1);
    assert_eq!(
        platform(upload_form(
            &mut world,
            T0,
            form("image/webp", &over_static)
        ))
        .0,
        131_053
    );
    let animated = sized(true, media::STICKER_BYTES_MAX + 1);
    let id = uploaded(&mut world, T0, "image/webp", &animated);
    assert!(world.media(&id).expect("stored").animated);
    let over_animated = sized(true, media::STICKER_ANIMATED_BYTES_MAX + 1);
    assert_eq!(
        platform(upload_form(
            &mut world,
            T0,
            form("image/webp", &over_animated)
        ))
        .0,
        131_053
    );
}

#[test]
fn a_bad_token_wins_over_a_bad_form() {
    let mut world = world();
    let reply = world
        .apply(
            T0,
            Command::UploadMedia {
                surface: Surface::Graph,
                credential: Some(Secret::from("wrong")),
                phone_number_id: Some(PhoneNumberId::from(US_NUMBER)),
                upload: Ok(MediaUpload::default()),
            },
        )
        .reply;
    assert_eq!(platform(reply).0, 190);
}

#[test]
fn past_limits_media_bytes_max_an_upload_is_refused_with_131000_and_nothing_is_lost() {
    let mut world = world_with("[limits]\nmedia_bytes_max = 100\n");
    let first = uploaded(&mut world, T0, "text/plain", &[b'a'; 60]);
    let (code, status, _, details) =
        platform(upload_form(&mut world, T0, form("text/plain", &[b'b'; 41])));
    assert_eq!((code, status), (131_000, 500));
    assert!(details.contains("limits.media_bytes_max"), "{details}");
    assert_eq!(world.media(&first).expect("kept").file_size, 60);
    assert_eq!(world.media_all().count(), 1);
    // Deleting frees the room.
    let deleted = world
        .apply(
            T0,
            Command::DeleteObject {
                credential: Some(Secret::from(TOKEN)),
                id: first.clone(),
                phone_number_id: None,
            },
        )
        .reply;
    assert_eq!(deleted, Ok(Reply::Done));
    uploaded(&mut world, T0, "text/plain", &[b'b'; 41]);
}

#[test]
fn limits_out_of_range_are_refused_naming_the_field() {
    let error =
        WorldSpec::from_toml("[limits]\nmedia_upload_bytes_max = 10\n").expect_err("too small");
    assert!(
        error.to_string().contains("limits.media_upload_bytes_max"),
        "{error}"
    );
    let error = WorldSpec::from_toml("[limits]\nmedia_bytes_max = 100000000000000\n")
        .expect_err("too large");
    assert!(
        error.to_string().contains("limits.media_bytes_max"),
        "{error}"
    );
    let limits = WorldSpec::default().limits;
    assert_eq!(limits.media_bytes_max, 1 << 30);
    assert_eq!(limits.media_upload_bytes_max, 101 << 20);
}

// ---------------------------------------------------------------------------
// The model: reading, deleting, downloading
// ---------------------------------------------------------------------------

#[test]
fn get_answers_the_media_s_fields_and_a_signed_url_query() {
    let mut world = world();
    let id = uploaded(&mut world, T0, "image/jpeg", JPEG);
    let Ok(Reply::Media(info)) = get(&mut world, T0, &id, None) else {
        panic!("readable");
    };
    assert_eq!(info.id, id.as_str());
    assert_eq!(info.mime_type, "image/jpeg");
    assert_eq!(info.file_size, JPEG.len() as u64);
    assert_eq!(info.sha256, media::sha256_hex(JPEG));
    let expires = support::EPOCH + 300;
    assert!(
        info.url_query
            .starts_with(&format!("mid={id}&ext={expires}&hash=")),
        "{}",
        info.url_query
    );
}

#[test]
fn phone_number_id_must_name_the_media_s_number() {
    let mut world = world();
    let id = uploaded(&mut world, T0, "image/jpeg", JPEG);
    assert!(matches!(
        get(&mut world, T0, &id, Some(US_NUMBER)),
        Ok(Reply::Media(_))
    ));
    assert!(matches!(
        get(&mut world, T0, &id, Some(DE_PHONE)),
        Err(Refusal::NotFound { .. })
    ));
    let delete = |world: &mut World, phone: &str| {
        world
            .apply(
                T0,
                Command::DeleteObject {
                    credential: Some(Secret::from(TOKEN)),
                    id: id.clone(),
                    phone_number_id: Some(PhoneNumberId::from(phone)),
                },
            )
            .reply
    };
    assert!(matches!(
        delete(&mut world, DE_PHONE),
        Err(Refusal::NotFound { .. })
    ));
    assert!(world.media(&id).is_some(), "not deleted by another number");
    assert_eq!(delete(&mut world, US_NUMBER), Ok(Reply::Done));
    assert!(world.media(&id).is_none());
    assert!(matches!(
        get(&mut world, T0, &id, None),
        Err(Refusal::NotFound { .. })
    ));
    assert!(matches!(
        delete(&mut world, US_NUMBER),
        Err(Refusal::NotFound { .. })
    ));
}

#[test]
fn a_url_downloads_for_five_virtual_minutes_then_is_refused() {
    let mut world = world();
    let id = uploaded(&mut world, T0, "image/jpeg", JPEG);
    let query = url_query(&mut world, T0, &id);
    let file = download(&mut world, seconds(299), bearer(), query.clone());
    assert_eq!(
        file,
        Ok(Reply::MediaFile {
            mime_type: "image/jpeg".to_owned(),
            bytes: bytes::Bytes::from_static(JPEG),
        })
    );
    match download(&mut world, seconds(300), bearer(), query) {
        Err(Refusal::Invalid(why)) => assert!(why.contains("expired"), "{why}"),
        other => panic!("expected an expired URL, got {other:?}"),
    }
    // A new URL works again.
    let fresh = url_query(&mut world, seconds(300), &id);
    assert!(download(&mut world, seconds(301), bearer(), fresh).is_ok());
}

#[test]
fn a_download_needs_the_token_and_a_url_the_simulator_signed() {
    let mut world = world();
    let id = uploaded(&mut world, T0, "image/jpeg", JPEG);
    let query = url_query(&mut world, T0, &id);
    assert_eq!(
        platform(download(&mut world, T0, None, query.clone())).0,
        190
    );
    let wrong = Some(MediaCredential::Bearer(Secret::from("nope")));
    assert_eq!(
        platform(download(&mut world, T0, wrong, query.clone())).0,
        190
    );
    let mut later = query.clone();
    later.ext = Some((support::EPOCH + 3600).to_string());
    assert!(matches!(
        download(&mut world, T0, bearer(), later),
        Err(Refusal::Invalid(why)) if why.contains("hash")
    ));
    // A 360dialog key downloads its own number's media only.
    let us_key = Some(MediaCredential::D360Key(Secret::from(US_KEY)));
    assert!(download(&mut world, T0, us_key, query.clone()).is_ok());
    let de_key = Some(MediaCredential::D360Key(Secret::from(DE_KEY)));
    assert!(matches!(
        download(&mut world, T0, de_key, query.clone()),
        Err(Refusal::NotFound { .. })
    ));
    let bad_key = Some(MediaCredential::D360Key(Secret::from("nope")));
    assert!(matches!(
        download(&mut world, T0, bad_key, query),
        Err(Refusal::Unauthorized(_))
    ));
}

#[test]
fn uploaded_ids_last_30_days_and_ids_of_media_users_sent_7() {
    let mut world = world();
    let uploaded_id = uploaded(&mut world, T0, "image/jpeg", JPEG);
    let effects = inbound(&mut world, T0, content(json!({"image": {}})));
    let inbound_id = message_of(&effects)["image"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let day = |d: u64| support::model::hours(24 * d);
    assert!(matches!(
        get(&mut world, day(7).minus_ms(1), &inbound_id, None),
        Ok(Reply::Media(_))
    ));
    assert!(get(&mut world, day(7), &inbound_id, None).is_err());
    assert!(matches!(
        get(&mut world, day(30).minus_ms(1), &uploaded_id, None),
        Ok(Reply::Media(_))
    ));
    assert!(get(&mut world, day(30), &uploaded_id, None).is_err());
    // Expired media frees its bytes at the next store.
    uploaded(&mut world, day(30), "text/plain", b"x");
    assert_eq!(world.media_bytes_total(), 1);
}

// ---------------------------------------------------------------------------
// The model: media and other messages users send
// ---------------------------------------------------------------------------

#[test]
fn an_inbound_image_is_stored_and_its_webhook_carries_id_type_hash_and_caption() {
    let mut world = world();
    let effects = inbound(
        &mut world,
        T0,
        content(
            json!({"image": {"mime_type": "image/png", "data": BASE64.encode(b"\x89PNG pixels"), "caption": "Broken 😢"}}),
        ),
    );
    let message = message_of(&effects);
    assert_eq!(message["type"], "image");
    let image = &message["image"];
    let id = image["id"].as_str().expect("an id");
    assert_eq!(image["mime_type"], "image/png");
    assert_eq!(image["caption"], "Broken 😢");
    assert_eq!(image["sha256"], media::sha256_hex(b"\x89PNG pixels"));
    assert_eq!(
        image.as_object().map(|o| o.len()),
        Some(4),
        "caption, mime_type, sha256, id: {image}"
    );
    let stored = world.media(id).expect("downloadable like an upload");
    assert_eq!(stored.bytes().as_ref(), b"\x89PNG pixels");
    assert_eq!(stored.origin, media::MediaOrigin::Inbound);
    let query = url_query(&mut world, T0, id);
    assert!(download(&mut world, T0, bearer(), query).is_ok());
}

#[test]
fn each_media_kind_carries_its_own_fields_and_a_placeholder_without_data() {
    let mut world = world();
    let document = inbound_message(
        &mut world,
        json!({"document": {"filename": "invoice.pdf", "caption": "April"}}),
    );
    assert_eq!(document["document"]["filename"], "invoice.pdf");
    assert_eq!(document["document"]["mime_type"], "application/pdf");
    let id = document["document"]["id"].as_str().expect("id");
    assert!(
        world
            .media(id)
            .expect("stored")
            .bytes()
            .starts_with(b"%PDF-")
    );
    let audio = inbound_message(&mut world, json!({"audio": {"voice": true}}));
    assert_eq!(audio["audio"]["voice"], true);
    assert_eq!(audio["audio"]["mime_type"], "audio/ogg");
    let plain_audio = inbound_message(&mut world, json!({"audio": {}}));
    assert_eq!(
        plain_audio["audio"]["voice"], false,
        "voice is always there"
    );
    let sticker = inbound_message(&mut world, json!({"sticker": {"animated": true}}));
    assert_eq!(sticker["sticker"]["animated"], true);
    assert_eq!(sticker["sticker"]["mime_type"], "image/webp");
    let id = sticker["sticker"]["id"].as_str().expect("id");
    assert!(media::is_animated_webp(
        world.media(id).expect("stored").bytes()
    ));
    let video = inbound_message(&mut world, json!({"video": {"caption": "look"}}));
    assert_eq!(video["type"], "video");
    assert_eq!(video["video"]["caption"], "look");
    assert_eq!(video["video"]["mime_type"], "video/mp4");
}

#[test]
fn inbound_media_is_refused_in_words_when_its_fields_are_wrong() {
    let refused = |value: Value| {
        InboundContent::from_json(value.as_object().expect("object"))
            .expect_err("refused")
            .to_string()
    };
    assert!(
        refused(json!({"image": {"mime_type": "image/gif"}}))
            .starts_with("image.mime_type: expected one of image/jpeg, image/png")
    );
    assert!(
        refused(json!({"image": {"data": "not base64!"}}))
            .starts_with("image.data: expected base64")
    );
    assert!(
        refused(json!({"audio": {"caption": "x"}})).starts_with("audio.caption: unknown field")
    );
    let big = BASE64.encode(vec![0u8; (media::STICKER_BYTES_MAX + 1) as usize]);
    assert!(refused(json!({"sticker": {"data": big}})).contains("131053"));
    assert!(
        refused(json!({"location": {"latitude": 91, "longitude": 0}}))
            .starts_with("location.latitude")
    );
    assert!(refused(json!({"contacts": []})).starts_with("contacts: expected 1 to 20"));
    assert!(refused(json!({"contacts": [{"phones": []}]})).starts_with("contacts.0.name: missing"));
    assert!(
        refused(json!({"reaction": {"emoji": "👍"}})).starts_with("reaction.message_id: missing")
    );
}

#[test]
fn past_the_media_bound_an_inbound_media_message_is_refused_and_nothing_happens() {
    let mut world = world_with("[limits]\nmedia_bytes_max = 10\n");
    let outcome = world.apply(
        T0,
        Command::Inbound {
            from: ANA_BR.into(),
            content: content(json!({"image": {}})),
            phone_number_id: None,
            context: None,
        },
    );
    assert_eq!(platform(outcome.reply).0, 131_000);
    assert!(
        meta_values(&outcome.effects, "messages").is_empty(),
        "no webhook"
    );
    assert!(
        world
            .recipient(ANA_BR)
            .expect("known")
            .activity()
            .last_inbound_at
            .is_none(),
        "no service window opened"
    );
}

#[test]
fn location_contacts_and_reaction_webhooks_carry_what_meta_sends() {
    let mut world = world();
    let place = json!({"latitude": 52.52, "longitude": 13.405, "name": "Alexanderplatz"});
    let location = inbound_message(&mut world, json!({"location": place.clone()}));
    assert_eq!(location["type"], "location");
    assert_eq!(location["location"], place);
    let card = json!({"name": {"formatted_name": "Lucía Gómez", "first_name": "Lucía"}, "phones": [{"phone": "+1 555 0100", "type": "MOBILE"}]});
    let contacts = inbound_message(&mut world, json!({"contacts": [card.clone()]}));
    assert_eq!(contacts["type"], "contacts");
    assert_eq!(contacts["contacts"], json!([card]));
    let wamid = support::model::accepted(
        &mut world,
        T0,
        US_NUMBER,
        template_body(ANA_BR, "spring_sale"),
    );
    let reaction = inbound_message(
        &mut world,
        json!({"reaction": {"message_id": wamid, "emoji": "👍"}}),
    );
    assert_eq!(
        reaction["reaction"],
        json!({"message_id": wamid, "emoji": "👍"})
    );
    assert!(reaction.get("context").is_none(), "{reaction}");
    let removed = inbound_message(&mut world, json!({"reaction": {"message_id": wamid}}));
    assert_eq!(removed["reaction"], json!({"message_id": wamid}));
}

#[test]
fn a_reaction_must_name_a_message_sent_to_that_user() {
    let mut world = world();
    let wamid = support::model::accepted(
        &mut world,
        T0,
        US_NUMBER,
        template_body(PRIYA_IN, "spring_sale"),
    );
    let react = |world: &mut World, message_id: &str| {
        world
            .apply(
                T0,
                Command::Inbound {
                    from: ANA_BR.into(),
                    content: content(
                        json!({"reaction": {"message_id": message_id, "emoji": "👍"}}),
                    ),
                    phone_number_id: None,
                    context: None,
                },
            )
            .reply
    };
    assert!(
        matches!(react(&mut world, &wamid), Err(Refusal::Invalid(why)) if why.contains("was not sent"))
    );
    assert!(matches!(
        react(&mut world, "wamid.nope"),
        Err(Refusal::NotFound { .. })
    ));
}

#[test]
fn every_inbound_kind_reads_back_what_it_writes() {
    let samples = [
        json!({"image": {"mime_type": "image/jpeg", "data": BASE64.encode(JPEG), "caption": "c"}}),
        json!({"document": {"mime_type": "text/plain", "filename": "a.txt"}}),
        json!({"audio": {"mime_type": "audio/mpeg", "voice": true}}),
        json!({"video": {"mime_type": "video/3gpp"}}),
        json!({"sticker": {"mime_type": "image/webp", "animated": false}}),
        json!({"location": {"latitude": -33.9, "longitude": 18.4, "address": "Cape Town"}}),
        json!({"contacts": [{"name": {"formatted_name": "A"}}]}),
        json!({"reaction": {"message_id": "wamid.x", "emoji": "❤️"}}),
    ];
    for sample in samples {
        let read = content(sample.clone());
        let (kind, written) = read.to_json();
        assert_eq!(json!({kind: written}), sample, "written back as given");
        assert_eq!(content(json!({kind: written})), read);
    }
}

#[test]
fn the_send_path_s_questions_are_answered_by_kind_and_type() {
    assert!(media_kind_accepts("image", "image/png"));
    assert!(!media_kind_accepts("image", "application/pdf"));
    assert!(media_kind_accepts("document", "application/pdf"));
    assert_eq!(MediaKind::of_mime("image/webp"), Some(MediaKind::Sticker));
    assert_eq!(MediaKind::Image.bytes_max(false), 5 * media::MIB);
    assert_eq!(MediaKind::Sticker.bytes_max(true), 500 * media::KIB);
    assert_eq!(MediaKind::Document.bytes_max(false), 100 * media::MIB);
}

// ---------------------------------------------------------------------------
// The wire
// ---------------------------------------------------------------------------

const BOUNDARY: &str = "wasim-test-boundary";

/// A multipart form: `messaging_product`, `type` and a file part of `mime`.
fn multipart(mime: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [("messaging_product", "whatsapp"), ("type", mime)] {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: {mime}\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A request with `headers` and a byte body.
fn bytes_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> axum::http::Request<axum::body::Body> {
    let mut builder = axum::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(axum::body::Body::from(body))
        .expect("a valid request")
}

/// Posts an upload form of `mime` and `bytes` to `path`, presenting `auth` (a header).
async fn post_upload(
    state: &std::sync::Arc<wasim_sim::state::AppState>,
    path: &str,
    auth: (&str, &str),
    mime: &str,
    bytes: &[u8],
) -> Answer {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    http::call(
        state,
        bytes_request(
            "POST",
            path,
            &[
                auth,
                ("content-type", &content_type),
                ("host", "sim.test:8080"),
            ],
            multipart(mime, bytes),
        ),
    )
    .await
}

/// `GET path` on Graph with the access token.
async fn graph_get(state: &std::sync::Arc<wasim_sim::state::AppState>, path: &str) -> Answer {
    http::client(state, Some(TOKEN)).get(path).await
}

/// Uploads to Graph's `path` with the access token.
async fn graph_upload_to(
    state: &std::sync::Arc<wasim_sim::state::AppState>,
    path: &str,
    mime: &str,
    bytes: &[u8],
) -> Answer {
    let auth = bearer_header();
    post_upload(state, path, (auth.0, &auth.1), mime, bytes).await
}

/// Uploads to the US number's `/v23.0/{id}/media` with the access token.
async fn graph_upload(
    state: &std::sync::Arc<wasim_sim::state::AppState>,
    mime: &str,
    bytes: &[u8],
) -> Answer {
    graph_upload_to(state, &format!("/v23.0/{US_PHONE}/media"), mime, bytes).await
}

fn bearer_header() -> (&'static str, String) {
    ("authorization", format!("Bearer {TOKEN}"))
}

#[tokio::test]
async fn upload_read_download_and_delete_over_the_wire() {
    let state = start();
    let auth = bearer_header();
    let answer = graph_upload(&state, "image/jpeg", JPEG).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.string("/id");
    assert_eq!(answer.json(), json!({"id": id}));

    let read = http::call(
        &state,
        bytes_request(
            "GET",
            &format!("/v23.0/{id}"),
            &[(auth.0, &auth.1), ("host", "sim.test:8080")],
            Vec::new(),
        ),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    let body = read.json();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["mime_type"], "image/jpeg");
    assert_eq!(
        body["file_size"],
        JPEG.len(),
        "a number, as pywa and 360dialog read it"
    );
    assert_eq!(body["sha256"], media::sha256_hex(JPEG));
    assert_eq!(body["id"], id);
    let url = body["url"].as_str().expect("a url");
    let prefix = "http://sim.test:8080/whatsapp_business/attachments/?mid=";
    assert!(
        url.starts_with(prefix),
        "absolute, at the Host the client used: {url}"
    );
    let path = url.strip_prefix("http://sim.test:8080").expect("same host");

    let file = http::call(
        &state,
        bytes_request("GET", path, &[(auth.0, &auth.1)], Vec::new()),
    )
    .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(file.body, JPEG);

    let anonymous = http::call(&state, bytes_request("GET", path, &[], Vec::new())).await;
    assert_graph_error(&anonymous, StatusCode::UNAUTHORIZED, 190);

    control_ok(&state, "/_wasim/clock/advance", &json!({"seconds": 300})).await;
    let expired = http::call(
        &state,
        bytes_request("GET", path, &[(auth.0, &auth.1)], Vec::new()),
    )
    .await;
    assert_eq!(expired.status, StatusCode::NOT_FOUND, "{}", expired.text());
    assert_eq!(expired.json()["error"]["code"], 100);
    assert!(
        support::http::details(&expired.json()["error"]).contains("expired"),
        "{}",
        expired.text()
    );

    let deleted = http::client(&state, Some(TOKEN))
        .delete(&format!("/v23.0/{id}"))
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.json(), json!({"success": true}));
    let gone = graph_get(&state, &format!("/{id}")).await;
    http::assert_unknown_object(&gone, "get", &id);

    // Every call is a `request` record; no secret, and no URL signature, in it.
    let (trace, records) = http::trace(&state).await;
    assert!(!trace.contains(TOKEN), "the token is fingerprinted");
    let hash = url.split("hash=").nth(1).expect("a hash");
    assert!(
        !trace.contains(hash),
        "the URL's signature stays out of the trace"
    );
    let paths: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "request")
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/whatsapp_business/attachments/"),
        "{paths:?}"
    );
    let upload_path = format!("/v23.0/{US_PHONE}/media");
    assert!(paths.contains(&upload_path.as_str()), "{paths:?}");
}

#[tokio::test]
async fn the_upload_route_is_served_without_its_version_too() {
    let state = start();
    let path = format!("/{US_PHONE}/media");
    let answer = graph_upload_to(&state, &path, "application/pdf", b"%PDF-1.4").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.string("/id");
    let read = graph_get(&state, &format!("/{id}?phone_number_id={US_PHONE}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    let other = graph_get(&state, &format!("/{id}?phone_number_id={DE_PHONE}")).await;
    http::assert_unknown_object(&other, "get", &id);
}

#[tokio::test]
async fn an_upload_body_over_the_world_s_limit_is_answered_413_naming_the_setting() {
    let state = start_with("[limits]\nmedia_upload_bytes_max = 2048\n");
    let answer = graph_upload(&state, "text/plain", &[b'a'; 4096]).await;
    let error = assert_graph_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, 100);
    assert!(
        support::http::details(&error).contains("limits.media_upload_bytes_max"),
        "{error}"
    );
    // Under the limit, the same route takes it.
    let small = graph_upload(&state, "text/plain", &[b'a'; 512]).await;
    assert_eq!(small.status, StatusCode::OK, "{}", small.text());
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused_with_100_and_a_bad_type_with_meta_s_message() {
    let state = start();
    let json_body = http::client(&state, Some(TOKEN))
        .post(
            &format!("/v23.0/{US_PHONE}/media"),
            &json!({"messaging_product": "whatsapp"}),
        )
        .await;
    let error = assert_graph_error(&json_body, StatusCode::BAD_REQUEST, 100);
    assert!(
        support::http::details(&error).contains("multipart/form-data"),
        "{error}"
    );
    let gif = graph_upload(&state, "image/gif", b"GIF89a").await;
    assert_eq!(gif.status, StatusCode::BAD_REQUEST);
    let message = gif.json()["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        message.starts_with("(#100) Param file must be a file with one of the following types:"),
        "{message}"
    );
    assert!(
        message.ends_with("Received file of type 'image/gif'."),
        "{message}"
    );
    let wrong_method = graph_get(&state, &format!("/v23.0/{US_PHONE}/media")).await;
    assert_graph_error(&wrong_method, StatusCode::BAD_REQUEST, 100);
}

#[tokio::test]
async fn the_360dialog_surface_uploads_reads_and_deletes_media_with_its_key() {
    let state = start();
    let answer = post_upload(&state, "/media", ("D360-API-KEY", US_KEY), "video/mp4", MP4).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let id = answer.string("/id");
    let us = http::Client::d360(&state, US_KEY);
    let read = us.get(&format!("/{id}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    let body = read.json();
    assert_eq!(body["file_size"], 12, "a number, as on Graph");
    assert_eq!(body["mime_type"], "video/mp4");
    let url = body["url"].as_str().expect("url");
    let path = &url[url.find("/whatsapp_business/").expect("the download path")..];
    let file = http::call(
        &state,
        bytes_request("GET", path, &[("D360-API-KEY", US_KEY)], Vec::new()),
    )
    .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, b"\0\0\0\x18ftypmp42");
    // Another number's key does not see it; a bad key is 360dialog's 401.
    let de = http::Client::d360(&state, DE_KEY);
    assert_eq!(
        de.get(&format!("/{id}")).await.status,
        StatusCode::BAD_REQUEST
    );
    let bad = http::Client::d360(&state, "nope")
        .get(&format!("/{id}"))
        .await;
    support::http::assert_d360_error(&bad, StatusCode::UNAUTHORIZED);
    let deleted = us.delete(&format!("/{id}")).await;
    assert_eq!(deleted.json(), json!({"success": true}));
    assert_eq!(
        us.get(&format!("/{id}")).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// Found by the router fuzzer (seed 18, case 177): `/_wasim` with a 360dialog
/// key went to 360dialog's media by id and answered in Graph's shape.
#[tokio::test]
async fn a_control_path_with_a_360dialog_key_is_still_the_control_api_s() {
    let state = start();
    let answer = http::call(
        &state,
        bytes_request("POST", "/_wasim", &[("D360-API-KEY", US_KEY)], Vec::new()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
    let body = answer.json();
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(
        body["error"].get("type").is_none(),
        "the control API's shape: {body}"
    );
    let version = http::Client::d360(&state, US_KEY).get("/v23.0").await;
    assert_graph_error(&version, StatusCode::BAD_REQUEST, 2500);
}

#[tokio::test]
async fn an_inbound_image_through_the_control_api_downloads_as_the_bytes_given() {
    let state = start();
    let data = b"\x89PNG\r\n\x1a\n tiny";
    let answer = control_post(
        &state,
        "/_wasim/inbound",
        &json!({"from": support::ANA, "image": {"mime_type": "image/png", "data": BASE64.encode(data)}}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let ids: Vec<String> =
        state.read(|sim| sim.world.media_all().map(|m| m.id.to_string()).collect());
    assert_eq!(ids.len(), 1);
    let read = graph_get(&state, &format!("/v23.0/{}", ids[0])).await;
    let url = read.string("/url");
    let path = &url[url.find("/whatsapp_business/").expect("the download path")..];
    let auth = bearer_header();
    let file = http::call(
        &state,
        bytes_request("GET", path, &[(auth.0, &auth.1)], Vec::new()),
    )
    .await;
    assert_eq!(file.body, data);
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    let refused = control_post(
        &state,
        "/_wasim/inbound",
        &json!({"from": support::ANA, "image": {"mime_type": "image/gif"}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------
// Sends by media id
// ---------------------------------------------------------------------------

#[test]
fn a_send_by_media_id_needs_media_the_platform_holds_of_the_kind_sent() {
    let mut world = world();
    world
        .apply(T0, inbound_text(ANA_BR, "send me the photo"))
        .reply
        .expect("Ana writes");
    let png = uploaded(&mut world, T0, "image/png", b"\x89PNG\r\n\x1a\n...");
    let send = |kind: &str, id: &str| json!({"messaging_product": "whatsapp", "to": ANA_BR, "type": kind, kind: {"id": id}});
    // The image, as an image: delivered.
    let image = accepted(&mut world, hours(1), US_NUMBER, send("image", &png));
    assert_eq!(outcome(&mut world, hours(2), &image), None);
    // The same file as audio: accepted, then fails as media the platform cannot use.
    let audio = accepted(&mut world, hours(2), US_NUMBER, send("audio", &png));
    assert_eq!(outcome(&mut world, hours(3), &audio), Some(131_053));
    // An id never uploaded, and a deleted one: refused at once with 131009.
    let (code, status, _, details) = platform(send_from(
        &mut world,
        hours(3),
        US_NUMBER,
        send("image", "4213862205790128"),
    ));
    assert_eq!((code, status), (131_009, 400), "{details}");
    let deleted = world.apply(
        hours(3),
        Command::DeleteObject {
            credential: Some(Secret::from(TOKEN)),
            id: png.clone(),
            phone_number_id: None,
        },
    );
    assert_eq!(deleted.reply, Ok(Reply::Done));
    let (code, ..) = platform(send_from(
        &mut world,
        hours(3),
        US_NUMBER,
        send("image", &png),
    ));
    assert_eq!(code, 131_009);
}
