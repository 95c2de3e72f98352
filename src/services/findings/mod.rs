//! Inspections: what a responder must know that no cut changes (logging off, a way in no cut closes,
//! public records pointing at what the plan cuts). They read and report; they never change the account.

pub mod cloudtrail_not_logging;
pub mod codecommit_repositories;
pub mod dns_way_out;
pub mod identity;
pub mod route53_public_records;
pub mod sns_subscriptions;
