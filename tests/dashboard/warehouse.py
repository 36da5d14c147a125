"""A tiny warehouse with the real tables' names and columns, for publishing tests (built with SQL)."""

from __future__ import annotations

from pathlib import Path

import duckdb

CORE = """
create table dim_customers (
    customer_id varchar, company_name varchar, country varchar, segment varchar, plan varchar,
    acquisition_channel varchar, signup_date date, account_manager varchar, has_account_manager boolean,
    onboarding_completed_on date, marketing_consent boolean, is_unsubscribed boolean, current_mrr double,
    cancel_date date, is_churned boolean
);
insert into dim_customers (customer_id, company_name, segment, plan, account_manager, current_mrr) values
    ('C1', 'Acme', 'smb', 'pro', null, 100), ('C2', 'Beta', 'enterprise', 'business', 'ann', 900),
    ('C3', 'Gamma', 'smb', 'basic', null, 40), ('C4', 'Delta', 'smb', 'basic', null, null);

create table fct_customer_features (customer_id varchar, snapshot_date date, plan varchar, segment varchar, mrr double);
insert into fct_customer_features values
    ('C1', '2025-12-01', 'basic', 'smb', 50), ('C2', '2025-12-01', 'business', 'enterprise', 900),
    ('C3', '2025-12-01', 'basic', 'smb', 40),
    ('C1', '2026-01-01', 'pro', 'smb', 100), ('C2', '2026-01-01', 'business', 'enterprise', 900),
    ('C3', '2026-01-01', 'basic', 'smb', 40), ('C4', '2026-01-01', 'basic', 'smb', 0);

create table fct_churn_labels (
    customer_id varchar, snapshot_date date, horizon_days integer, horizon_end date, is_mature boolean,
    churned boolean, churn_date date
);
insert into fct_churn_labels (customer_id, snapshot_date, horizon_end, is_mature, churned) values
    ('C1', '2025-12-01', '2025-12-31', true, true), ('C2', '2025-12-01', '2025-12-31', true, false),
    ('C3', '2025-12-01', '2025-12-31', true, false),
    ('C1', '2026-01-01', '2026-01-31', false, null), ('C2', '2026-01-01', '2026-01-31', false, null),
    ('C3', '2026-01-01', '2026-01-31', false, null), ('C4', '2026-01-01', '2026-01-31', false, null);

create table stg_nps_responses (
    response_id varchar, customer_id varchar, responded_at date, score integer, comment varchar, batch_date date
);
insert into stg_nps_responses (response_id, customer_id, responded_at, score) values
    ('N1', 'C1', '2025-12-10', 3), ('N2', 'C2', '2025-12-15', 10), ('N3', 'C2', '2025-11-15', 0);

create schema ml;
create table ml.churn_score_history (
    customer_id varchar, snapshot_date timestamp, churn_probability double, risk_tier varchar,
    model_version varchar, policy_version varchar, top_feature varchar, reason_1 varchar, reason_2 varchar,
    reason_3 varchar, scored_at timestamp
);
insert into ml.churn_score_history
    (customer_id, snapshot_date, churn_probability, risk_tier, model_version, reason_1, scored_at) values
    ('C1', '2025-12-01', 0.2, 'low', '1', null, '2025-12-02 08:00'),
    ('C2', '2025-12-01', 0.7, 'high', '1', 'no login', '2025-12-02 08:00'),
    ('C3', '2025-12-01', 0.1, 'low', '1', null, '2025-12-02 08:00'),
    ('C1', '2026-01-01', 0.85, 'critical', '2', 'usage down', '2026-01-02 08:00'),
    ('C2', '2026-01-01', 0.65, 'high', '2', 'no login', '2026-01-02 08:00'),
    ('C3', '2026-01-01', 0.4, 'medium', '2', 'tickets', '2026-01-02 08:00'),
    ('C4', '2026-01-01', 0.05, 'low', '2', null, '2026-01-02 08:00');
create table ml.churn_scores as
    select * from ml.churn_score_history where scored_at = '2026-01-02 08:00';
"""

VALUE = """
create table ml.customer_value (
    customer_id varchar, expected_remaining_months double, customer_value double, valuable boolean
);
insert into ml.customer_value values
    ('C1', 20, 2000, true), ('C2', 30, 20000, true), ('C3', 5, 150, false), ('C4', 1, 0, false);
"""

RETENTION = """
create schema retention;
create table retention.decisions (
    customer_id varchar, snapshot_date timestamp, risk_tier varchar, churn_probability double,
    customer_value double, valuable boolean, factor varchar, segment varchar, plan varchar, value_band varchar,
    playbook varchar, arm varchar, intervention varchar, channel varchar, template varchar,
    timeline_days bigint, offer varchar, offer_cost double, expected_uplift double, expected_net_value double,
    decision varchar, control_probability double, assignment_probability double, arm_probabilities varchar,
    allocation varchar, campaign_id varchar, wave bigint, decided_on timestamp_s, model_version varchar,
    policy_version varchar, retention_policy_version varchar, ranking varchar, reason_1 varchar,
    reason_2 varchar, reason_3 varchar
);
insert into retention.decisions (customer_id, snapshot_date, risk_tier, playbook, arm, intervention, offer, decision,
                                 assignment_probability, campaign_id)
values
    ('C1', '2025-12-01', 'high', 'old-playbook', 'discount', 'discount', '10% off', 'treat', 0.4,
     '2025-12-01:old-playbook'),
    ('C2', '2025-12-01', 'high', 'old-playbook', 'control', 'discount', '10% off', 'control', 0.145,
     '2025-12-01:old-playbook'),
    ('C3', '2025-12-01', 'medium', 'old-playbook', 'control', 'discount', '10% off', 'holdout', 0.145,
     '2025-12-01:old-playbook'),
    ('C1', '2026-01-01', 'critical', 'rescue', 'control', 'call', 'a call', 'control', 0.145, '2026-01-01:rescue'),
    ('C2', '2026-01-01', 'high', 'rescue', 'success_call', 'call', 'a call', 'treat', 0.6, '2026-01-01:rescue'),
    ('C3', '2026-01-01', 'medium', 'rescue', null, 'call', 'a call', 'no_consent', null, '2026-01-01:rescue');

create table retention.send_ledger (
    customer_id varchar not null, campaign_id varchar not null, wave integer not null, channel varchar,
    intervention varchar, playbook varchar, template varchar, snapshot_date date, risk_tier varchar,
    churn_probability double, model_version varchar, policy_version varchar, retention_policy_version varchar,
    status varchar not null, attempts integer default 0, message_id varchar, last_error varchar,
    created_at timestamp, sent_at timestamp, message_key varchar, primary key (customer_id, campaign_id, wave)
);
insert into retention.send_ledger
    (customer_id, campaign_id, wave, channel, snapshot_date, status, created_at, sent_at, message_key) values
    ('C1', '2025-12-01:old-playbook', 1, 'email', '2025-12-01', 'sent', '2025-12-02 09:00', '2025-12-02 09:05', 'k1'),
    ('C2', '2026-01-01:rescue', 1, 'email', '2026-01-01', 'failed', '2026-01-02 09:00', null, 'k2'),
    ('C3', '2025-12-01:old-playbook', 1, 'email', '2025-12-01', 'pending', '2025-12-02 09:00', null, 'k3');
create table retention.provider_events (
    message_key varchar, provider varchar, event varchar, message_id varchar, address varchar,
    event_at timestamp, detail varchar, file varchar
);
insert into retention.provider_events (message_key, provider, event) values
    ('k1', 'sendgrid', 'delivered'), ('k1', 'sendgrid', 'open');

create table retention.outcomes (
    snapshot_date timestamp, dimension varchar, segment varchar, treated double, treated_churned double,
    treated_churn_rate double, control double, control_churned double, control_churn_rate double,
    save_rate double, save_rate_low double, save_rate_high double, save_rate_adjusted double,
    save_rate_adjusted_low double, save_rate_adjusted_high double, mde double, power double,
    customers_saved double, revenue_retained double, cost double, roi double, roi_low double, roi_high double,
    verdict varchar
);
insert into retention.outcomes values
    ('2025-12-01', 'overall', 'all', 80, 8, 0.1, 20, 4, 0.2, 0.1, -0.05, 0.3, 0.09, -0.04, 0.22, 0.25, 0.1,
     8, 16000, 800, 19, -5, 40, 'not yet measurable'),
    ('2025-12-01', 'playbook', 'old-playbook', 80, 8, 0.1, 20, 4, 0.2, 0.1, -0.05, 0.3, 0.09, -0.04, 0.22,
     0.25, 0.1, 8, 16000, 800, 19, -5, 40, 'not yet measurable');

create table retention.playbook_effects (
    playbook varchar, arm varchar, waves integer, first_snapshot timestamp, last_snapshot timestamp,
    treated bigint, control bigint, save_rate double, save_rate_low double, save_rate_high double,
    save_rate_adjusted double, save_rate_adjusted_low double, save_rate_adjusted_high double, mde double,
    power double, revenue_retained double, cost double, roi double, roi_low double, roi_high double,
    verdict varchar, minimum_effect double, weeks_to_detect double
);
insert into retention.playbook_effects values
    ('old-playbook', 'all', 1, '2025-12-01', '2025-12-01', 107, 12, -0.07, -0.31, 0.2, -0.069, -0.31, 0.20,
     0.36, 0.05, -30000, 1400, -20.64, -60, 20, 'not yet measurable', 0.03, 'inf'),
    ('old-playbook', 'discount', 1, '2025-12-01', '2025-12-01', 107, 12, -0.07, -0.31, 0.2, -0.069, -0.31,
     0.20, 0.36, 0.05, -30000, 1400, -20.64, -60, 20, 'not yet measurable', 0.03, 'inf'),
    ('rescue', 'all', 2, '2025-12-01', '2026-01-01', 2600, 2500, 0.05, 0.03, 0.07, 0.048, 0.03, 0.066, 0.03,
     0.8, 90000, 52000, 0.73, 0.1, 1.4, 'works', 0.03, 0),
    ('rescue', 'success_call', 2, '2025-12-01', '2026-01-01', 900, 2500, 0.08, 0.05, 0.11, 0.078, 0.05, 0.106,
     0.04, 0.6, 60000, 54000, 0.11, -0.2, 0.5, 'works', 0.03, 0),
    ('win-back', 'all', 1, '2026-01-01', '2026-01-01', 400, 60, 0.02, -0.05, 0.09, 0.021, -0.04, 0.08, 0.12,
     0.12, 5000, 8000, -0.37, -2, 1, 'not yet measurable', 0.03, 11.2);

create table retention.policy_values (
    playbook varchar, policy varchar, customers bigint, value_per_customer double, ips double,
    gain_vs_logged double
);
insert into retention.policy_values values
    ('rescue', 'as logged', 5100, 2400, 2400, 0), ('rescue', 'never contact', 5100, 2300, 2290, -100),
    ('rescue', 'always success_call', 5100, 2450, 2440, 50);
"""

MONITORING = """
create schema monitoring;
create table monitoring.report_runs (
    report varchar, run_id varchar, run_at timestamp, drift_share double, drifted_columns integer,
    columns integer, dataset_drift boolean, roc_auc double, html_path varchar, model_version varchar,
    evidently_url varchar
);
insert into monitoring.report_runs values
    ('feature_drift', 'r1', '2026-01-02 10:00', 0.1, 2, 20, false, null, '/reports/r1/feature.html', '2', null),
    ('feature_drift', 'r2', '2026-01-09 10:00', 0.6, 12, 20, true, null, '/reports/r2/feature.html', '2', null),
    ('model_performance', 'r2', '2026-01-09 10:00', null, null, null, null, 0.81, '/reports/r2/perf.html', '2',
     'http://127.0.0.1:8000/projects/p');
"""


def build(path: Path, *, value: bool = True, retention: bool = True, monitoring: bool = True) -> Path:
    """A warehouse with the core tables and, as asked, customer value, retention and monitoring."""
    con = duckdb.connect(str(path))
    try:
        con.execute(CORE)
        for wanted, sql in ((value, VALUE), (retention, RETENTION), (monitoring, MONITORING)):
            if wanted:
                con.execute(sql)
    finally:
        con.close()
    return path
