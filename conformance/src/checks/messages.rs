//! What a conversation beyond text asks of an integration: inbound messages
//! marked read, media that cannot be fetched not sent again, and media URLs
//! that expired fetched anew.

use std::collections::{BTreeMap, BTreeSet};

use wasim_reports::Severity;
use wasim_sim::TraceEvent;

use super::{Check, Evidence, Judgement, group};

/// READ-001.
pub const INBOUND_MARKED_READ: Check = Check {
    id: "READ-001",
    severity: Severity::Should,
    rule: "Mark inbound messages read (a later message of the same user marked read counts for the earlier ones)",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/mark-message-as-read",
    rationale: "Users see two blue ticks only when the business marks their message read; \
                a bot that never does looks like nobody is listening.",
    judge: inbound_marked_read,
};

/// One user's messages to one number: `(seq, wamid)` each, in order, and the
/// position of the latest one marked read.
type Conversation<'a> = (Vec<(u64, &'a str)>, Option<usize>);

fn inbound_marked_read(evidence: &Evidence<'_>) -> Judgement {
    // (number, user) → the inbound messages, in order, and the position of the
    // latest one marked read: marking a message marks the earlier ones too.
    let mut conversations: BTreeMap<(&str, &str), Conversation<'_>> = BTreeMap::new();
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::Inbound {
                message_id,
                from,
                phone_number_id,
                ..
            } => conversations
                .entry((phone_number_id, from))
                .or_default()
                .0
                .push((record.seq, message_id)),
            TraceEvent::MessageMarkedRead {
                message_id,
                from,
                phone_number_id,
                ..
            } => {
                let (received, read) = conversations.entry((phone_number_id, from)).or_default();
                if let Some(position) = received.iter().position(|(_, id)| id == message_id) {
                    *read = Some(read.map_or(position, |read| read.max(position)));
                }
            }
            _ => {}
        }
    }
    let received: usize = conversations.values().map(|(r, _)| r.len()).sum();
    if received == 0 {
        return Judgement::NotApplicable("no user wrote to the business".to_owned());
    }
    let unread: Vec<u64> = conversations
        .values()
        .flat_map(|(received, read)| {
            let from = read.map_or(0, |read| read + 1);
            received[from..].iter().map(|(seq, _)| *seq)
        })
        .collect();
    let count = unread.len();
    Judgement::unless_proven(
        format!("{received} inbound message(s), every one marked read"),
        format!("{count} of {received} inbound message(s) never marked read"),
        unread,
    )
}

/// The media download error: the platform could not fetch what the link names.
const MEDIA_FETCH_FAILED: u32 = 131_053;

/// MEDIA-001.
pub const NO_RESEND_OF_FAILED_MEDIA: Check = Check {
    id: "MEDIA-001",
    severity: Severity::Must,
    rule: "After a media message fails with 131053, do not send the same media to that user again",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes",
    rationale: "131053 means the platform could not fetch or accept the media: the same link \
                fails the same way, so resending it only loops. Fix the link, or upload the \
                file and send it by id.",
    judge: no_resend_of_failed_media,
};

fn no_resend_of_failed_media(evidence: &Evidence<'_>) -> Judgement {
    // wamid → (recipient, media) of every media send accepted.
    let mut sent: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    // (recipient, media) that failed with 131053, and the failure's record.
    let mut failed: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut proof = Vec::new();
    let mut resends = 0usize;
    for (record, event) in evidence.events() {
        match event {
            TraceEvent::MessageAccepted {
                message_id,
                to,
                media: Some(media),
                ..
            } => {
                let key = (to.as_str(), media.as_str());
                if let Some(failure) = failed.get(&key) {
                    resends += 1;
                    proof.extend([*failure, record.seq]);
                }
                sent.insert(message_id, key);
            }
            TraceEvent::Status {
                message_id,
                error_code: Some(MEDIA_FETCH_FAILED),
                ..
            } => {
                if let Some(key) = sent.get(message_id.as_str()) {
                    failed.entry(*key).or_insert(record.seq);
                }
            }
            _ => {}
        }
    }
    match failed.len() {
        0 => Judgement::NotApplicable("no media message failed with 131053".to_owned()),
        count => Judgement::unless_proven(
            format!("{count} media message(s) failed with 131053; none was sent again"),
            format!("the same media was sent {resends} more time(s) after failing with 131053"),
            proof,
        ),
    }
}

/// MEDIA-002.
pub const EXPIRED_MEDIA_URL_REFETCHED: Check = Check {
    id: "MEDIA-002",
    severity: Severity::Must,
    rule: "When a media URL has expired, get a new one with GET /{media-id} and download the file with it",
    reference: "https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media",
    rationale: "A media URL lasts 5 minutes. Retrying an expired URL never succeeds, and \
                giving up loses the photo or document the user sent.",
    judge: expired_media_url_refetched,
};

fn expired_media_url_refetched(evidence: &Evidence<'_>) -> Judgement {
    let downloads = group(evidence.events().filter_map(|(record, event)| match event {
        TraceEvent::MediaDownloaded {
            media_id,
            url_expires_s,
            outcome,
        } => Some((media_id.as_str(), (record.seq, *url_expires_s, *outcome))),
        _ => None,
    }));
    let mut expired_media = 0usize;
    let mut proof = Vec::new();
    let (mut retried, mut lost) = (0usize, 0usize);
    for attempts in downloads.values() {
        let Some(first) = attempts.iter().position(|(_, _, o)| *o == "expired") else {
            continue;
        };
        expired_media += 1;
        let mut expired_urls = BTreeSet::new();
        let mut expired_seqs = Vec::new();
        let mut retries = Vec::new();
        let mut fetched = false;
        for (seq, url, outcome) in &attempts[first..] {
            if expired_urls.contains(url) {
                retries.push(*seq);
            }
            match *outcome {
                "expired" => {
                    expired_urls.insert(*url);
                    expired_seqs.push(*seq);
                }
                "downloaded" => fetched = true,
                _ => {}
            }
        }
        if !fetched {
            lost += 1;
        }
        if !fetched || !retries.is_empty() {
            retried += retries.len();
            proof.extend(expired_seqs);
            proof.extend(retries);
        }
    }
    if expired_media == 0 {
        return Judgement::NotApplicable("no media URL was used after it expired".to_owned());
    }
    let failure = match (retried, lost) {
        (0, lost) => format!("{lost} media file(s) never downloaded after their URL expired"),
        (retried, 0) => format!("{retried} download(s) retried an expired URL as it was"),
        (retried, lost) => format!(
            "{retried} download(s) retried an expired URL as it was; {lost} media file(s) never downloaded"
        ),
    };
    Judgement::unless_proven(
        format!("{expired_media} expired media URL(s), each fetched anew and downloaded"),
        failure,
        proof,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::verdict::{judge, not_applicable, passes, proof};

    const USER: &str = "5511987654321";

    fn inbound(id: &str) -> TraceEvent {
        TraceEvent::Inbound {
            message_id: id.to_owned(),
            from: USER.to_owned(),
            phone_number_id: "1".to_owned(),
            message_type: "text".to_owned(),
            context: None,
            text_chars: 2,
        }
    }

    fn marked(id: &str) -> TraceEvent {
        TraceEvent::MessageMarkedRead {
            surface: "graph",
            phone_number_id: "1".to_owned(),
            message_id: id.to_owned(),
            from: USER.to_owned(),
            after_ms: 0,
            typing: false,
        }
    }

    /// Inbound messages (`+id`) and read receipts (`^id`), in order.
    fn conversation(script: &[&str]) -> Vec<(u64, TraceEvent)> {
        let event = |step: &&str| match step.split_at(1) {
            ("+", id) => inbound(id),
            (_, id) => marked(id),
        };
        script
            .iter()
            .map(event)
            .enumerate()
            .map(|(at, e)| (at as u64, e))
            .collect()
    }

    #[test]
    fn inbound_messages_marked_read_directly_or_through_a_later_one_pass() {
        let events = conversation(&["+a", "+b", "^b", "+c", "^c"]);
        assert!(passes(&INBOUND_MARKED_READ, events));
        assert!(not_applicable(&INBOUND_MARKED_READ, conversation(&["^a"])));
    }

    #[test]
    fn an_inbound_message_never_marked_read_is_the_proof() {
        // Marking an earlier message does not mark the later ones.
        for (script, unread) in [
            (&["+a", "^a", "+b", "+c"][..], vec![2, 3]),
            (&["+a", "+b", "^a"][..], vec![1]),
        ] {
            let events = conversation(script);
            assert_eq!(
                proof(&INBOUND_MARKED_READ, events),
                Some(unread),
                "{script:?}"
            );
        }
    }

    fn media_sent(id: &str, media: &str) -> TraceEvent {
        TraceEvent::MessageAccepted {
            message_id: id.to_owned(),
            surface: "graph",
            phone_number_id: "1".to_owned(),
            to: USER.to_owned(),
            message_type: "document",
            reply_to: None,
            media: Some(media.to_owned()),
            template: None,
            category: "SERVICE",
            message_status: None,
        }
    }

    fn failed(id: &str, code: u32) -> TraceEvent {
        TraceEvent::Status {
            message_id: id.to_owned(),
            to: USER.to_owned(),
            status: "failed",
            error_code: Some(code),
        }
    }

    const BROKEN: &str = "link https://files.example.invalid/receipt.pdf";
    const FIXED: &str = "link https://files.example.com/receipt.pdf";

    #[test]
    fn the_same_media_sent_again_after_131053_fails_other_media_passes() {
        // (the second send's media, the failure's code, the verdict)
        let cases = [(BROKEN, 131_053, Some(vec![1, 2])), (FIXED, 131_053, None)];
        for (again, code, expected) in cases {
            let events = vec![
                (0, media_sent("w1", BROKEN)),
                (1, failed("w1", code)),
                (2, media_sent("w2", again)),
            ];
            assert_eq!(proof(&NO_RESEND_OF_FAILED_MEDIA, events.clone()), expected);
            assert_eq!(
                passes(&NO_RESEND_OF_FAILED_MEDIA, events),
                expected.is_none()
            );
        }
        // Another failure code: nothing to judge.
        let events = vec![
            (0, media_sent("w1", BROKEN)),
            (1, failed("w1", 131_026)),
            (2, media_sent("w2", BROKEN)),
        ];
        assert!(not_applicable(&NO_RESEND_OF_FAILED_MEDIA, events));
    }

    fn download(media: &str, url: u64, outcome: &'static str) -> TraceEvent {
        TraceEvent::MediaDownloaded {
            media_id: media.to_owned(),
            url_expires_s: url,
            outcome,
        }
    }

    #[test]
    fn an_expired_url_fetched_anew_and_downloaded_passes() {
        let events = vec![
            (0, download("m1", 100, "expired")),
            (1, download("m1", 900, "downloaded")),
        ];
        assert!(passes(&EXPIRED_MEDIA_URL_REFETCHED, events));
        assert!(not_applicable(
            &EXPIRED_MEDIA_URL_REFETCHED,
            vec![(0, download("m1", 100, "downloaded"))]
        ));
    }

    #[test]
    fn an_expired_url_retried_as_it_was_or_never_replaced_fails() {
        let retried = vec![
            (0, download("m1", 100, "expired")),
            (1, download("m1", 100, "expired")),
            (2, download("m1", 100, "expired")),
        ];
        let judgement = judge(&EXPIRED_MEDIA_URL_REFETCHED, retried);
        let Judgement::Fail { message, proof } = judgement else {
            panic!("expected a failure: {judgement:?}");
        };
        assert_eq!(proof, vec![0, 1, 2]);
        assert!(message.starts_with("2 download(s) retried"), "{message}");
        assert!(
            message.contains("1 media file(s) never downloaded"),
            "{message}"
        );
        let given_up = vec![(0, download("m1", 100, "expired"))];
        assert_eq!(
            crate::checks::verdict::proof(&EXPIRED_MEDIA_URL_REFETCHED, given_up),
            Some(vec![0])
        );
    }
}
