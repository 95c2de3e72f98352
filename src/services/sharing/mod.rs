//! Data shared out of the account as copies: EBS snapshots, AMIs, RDS snapshots and SSM documents made
//! public or shared with other accounts, and the regional switches that block such sharing.
