"""Initial read models: bookkeeping (api_keys, intake_ledger, projector_offsets, lead_claims),
ingress facts (workorders, inspections, cases, transfers, credit_events/_states/_repairs,
timeline), derived tables (leads, lead_history, credit_triggers), clock_state and
reference_sets. Matches projections/models.py exactly (tests check autogenerate finds no diff).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('cases',
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('agency_code', sa.String(length=18), nullable=True),
    sa.Column('party_type', sa.String(length=20), nullable=True),
    sa.Column('party_uscc', sa.String(length=18), nullable=True),
    sa.Column('party_id_token', sa.String(length=100), nullable=True),
    sa.Column('party_name', sa.String(length=500), nullable=True),
    sa.Column('matter_code', sa.String(length=200), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_refs', sa.JSON(), nullable=True),
    sa.Column('decision_no', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('procedure', sa.String(length=10), nullable=True),
    sa.Column('penalty_types', sa.JSON(), nullable=True),
    sa.Column('fine_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('confiscated_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('amount_involved', sa.JSON(), nullable=True),
    sa.Column('circumstance_level', sa.String(length=10), nullable=True),
    sa.Column('violation_type', sa.String(length=500), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('first_violation', sa.Boolean(), nullable=True),
    sa.Column('corrected', sa.Boolean(), nullable=True),
    sa.Column('major', sa.Boolean(), nullable=True),
    sa.Column('hearing_held', sa.Boolean(), nullable=True),
    sa.Column('complex', sa.Boolean(), nullable=True),
    sa.Column('penalty_duration_until', sa.Date(), nullable=True),
    sa.Column('legal_reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('legal_review_passed', sa.Boolean(), nullable=True),
    sa.Column('extended_days', sa.Integer(), nullable=False),
    sa.Column('extended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publication_channel', sa.String(length=40), nullable=True),
    sa.Column('publication_masked', sa.Boolean(), nullable=True),
    sa.Column('unpublished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=20), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.String(length=20), nullable=True),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_cases'))
    )
    op.create_index(op.f('ix_cases_agency_code'), 'cases', ['agency_code'], unique=False)
    op.create_index(op.f('ix_cases_decided_at'), 'cases', ['decided_at'], unique=False)
    op.create_index(op.f('ix_cases_decision_no'), 'cases', ['decision_no'], unique=False)
    op.create_index(op.f('ix_cases_party_uscc'), 'cases', ['party_uscc'], unique=False)
    op.create_index(op.f('ix_cases_region_code'), 'cases', ['region_code'], unique=False)
    op.create_table('clock_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clock_state'))
    )
    op.create_table('credit_events',
    sa.Column('source_event_id', sa.String(length=200), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('decision_no', sa.String(length=200), nullable=True),
    sa.Column('risk_class', sa.String(length=1), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('source_offset', sa.String(length=260), nullable=False),
    sa.PrimaryKeyConstraint('source_event_id', name=op.f('pk_credit_events'))
    )
    op.create_index(op.f('ix_credit_events_decision_no'), 'credit_events', ['decision_no'], unique=False)
    op.create_index(op.f('ix_credit_events_uscc'), 'credit_events', ['uscc'], unique=False)
    op.create_table('credit_repairs',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('decision_no', sa.String(length=200), nullable=False),
    sa.Column('publicity_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publicity_ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('repair_applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('repair_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('repair_granted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('repair_rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('commitment_made_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trigger_receipt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('uscc', 'decision_no', name=op.f('pk_credit_repairs'))
    )
    op.create_table('credit_states',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('risk_class', sa.String(length=1), nullable=True),
    sa.Column('risk_class_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dishonest', sa.Boolean(), nullable=True),
    sa.Column('dishonest_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('uscc', name=op.f('pk_credit_states'))
    )
    op.create_table('credit_triggers',
    sa.Column('trigger_id', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('decision_no', sa.String(length=200), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_offset', sa.String(length=260), nullable=False),
    sa.PrimaryKeyConstraint('trigger_id', name=op.f('pk_credit_triggers'))
    )
    op.create_index(op.f('ix_credit_triggers_code'), 'credit_triggers', ['code'], unique=False)
    op.create_index(op.f('ix_credit_triggers_decision_no'), 'credit_triggers', ['decision_no'], unique=False)
    op.create_index(op.f('ix_credit_triggers_detected_at'), 'credit_triggers', ['detected_at'], unique=False)
    op.create_index(op.f('ix_credit_triggers_uscc'), 'credit_triggers', ['uscc'], unique=False)
    op.create_table('inspections',
    sa.Column('inspection_id', sa.String(length=200), nullable=False),
    sa.Column('source_event_id', sa.String(length=200), nullable=False),
    sa.Column('action_code', sa.String(length=200), nullable=True),
    sa.Column('agency_code', sa.String(length=18), nullable=False),
    sa.Column('joint_agency_codes', sa.JSON(), nullable=False),
    sa.Column('joint_agency_count', sa.Integer(), nullable=False),
    sa.Column('officer_cert_nos', sa.JSON(), nullable=False),
    sa.Column('target_uscc', sa.String(length=18), nullable=False),
    sa.Column('target_name', sa.String(length=500), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('plan_id', sa.String(length=200), nullable=True),
    sa.Column('random', sa.Boolean(), nullable=False),
    sa.Column('credit_rule_applied', sa.Boolean(), nullable=False),
    sa.Column('risk_class', sa.String(length=1), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('rectification_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_offset', sa.String(length=260), nullable=False),
    sa.PrimaryKeyConstraint('inspection_id', name=op.f('pk_inspections'))
    )
    op.create_index(op.f('ix_inspections_agency_code'), 'inspections', ['agency_code'], unique=False)
    op.create_index(op.f('ix_inspections_region_code'), 'inspections', ['region_code'], unique=False)
    op.create_index(op.f('ix_inspections_started_at'), 'inspections', ['started_at'], unique=False)
    op.create_index(op.f('ix_inspections_target_uscc'), 'inspections', ['target_uscc'], unique=False)
    op.create_table('intake_ledger',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source_event_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=True),
    sa.Column('offset', sa.BigInteger(), nullable=True),
    sa.Column('key', sa.String(length=200), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'source_event_id', name=op.f('pk_intake_ledger'))
    )
    op.create_table('lead_claims',
    sa.Column('lead_id', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('action_id', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_lead_claims'))
    )
    op.create_table('lead_history',
    sa.Column('action_id', sa.String(length=80), nullable=False),
    sa.Column('lead_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('source_offset', sa.String(length=260), nullable=True),
    sa.PrimaryKeyConstraint('action_id', name=op.f('pk_lead_history'))
    )
    op.create_index(op.f('ix_lead_history_lead_id'), 'lead_history', ['lead_id'], unique=False)
    op.create_table('lead_evidence',
    sa.Column('lead_id', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('lead_id', 'topic', 'partition', 'offset', name=op.f('pk_lead_evidence'))
    )
    op.create_index('ix_lead_evidence_position', 'lead_evidence', ['topic', 'partition', 'offset'], unique=False)
    op.create_table('leads',
    sa.Column('lead_id', sa.String(length=40), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=False),
    sa.Column('rule_name', sa.String(length=100), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.String(length=200), nullable=False),
    sa.Column('subject_name', sa.String(length=500), nullable=True),
    sa.Column('agency_code', sa.String(length=18), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_offset', sa.String(length=260), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_leads'))
    )
    op.create_index(op.f('ix_leads_agency_code'), 'leads', ['agency_code'], unique=False)
    op.create_index(op.f('ix_leads_change_seq'), 'leads', ['change_seq'], unique=False)
    op.create_index(op.f('ix_leads_detected_at'), 'leads', ['detected_at'], unique=False)
    op.create_index(op.f('ix_leads_grade'), 'leads', ['grade'], unique=False)
    op.create_index('ix_leads_queue', 'leads', ['status', 'detected_at'], unique=False)
    op.create_index(op.f('ix_leads_region_code'), 'leads', ['region_code'], unique=False)
    op.create_index(op.f('ix_leads_rule_code'), 'leads', ['rule_code'], unique=False)
    op.create_index(op.f('ix_leads_subject_id'), 'leads', ['subject_id'], unique=False)
    op.create_table('projector_offsets',
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', name=op.f('pk_projector_offsets'))
    )
    op.create_table('reference_sets',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_reference_sets'))
    )
    op.create_table('timeline',
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('ce_id', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=True),
    sa.Column('case_id', sa.String(length=200), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('action_code', sa.String(length=200), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', 'offset', name=op.f('pk_timeline'))
    )
    op.create_index(op.f('ix_timeline_at'), 'timeline', ['at'], unique=False)
    op.create_index(op.f('ix_timeline_case_id'), 'timeline', ['case_id'], unique=False)
    op.create_index(op.f('ix_timeline_uscc'), 'timeline', ['uscc'], unique=False)
    op.create_table('transfers',
    sa.Column('source_event_id', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organ', sa.String(length=500), nullable=True),
    sa.Column('source_offset', sa.String(length=260), nullable=False),
    sa.PrimaryKeyConstraint('source_event_id', name=op.f('pk_transfers'))
    )
    op.create_index(op.f('ix_transfers_case_id'), 'transfers', ['case_id'], unique=False)
    op.create_table('workorders',
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('source_event_id', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('topic', sa.String(length=500), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('subject_name', sa.String(length=500), nullable=True),
    sa.Column('subject_uscc', sa.String(length=18), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('about_agency_code', sa.String(length=18), nullable=True),
    sa.Column('enforcement_complaint_type', sa.String(length=20), nullable=True),
    sa.Column('complainant_token', sa.String(length=64), nullable=True),
    sa.Column('handling_unit', sa.String(length=500), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.String(length=260), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_workorders'))
    )
    op.create_index(op.f('ix_workorders_region_code'), 'workorders', ['region_code'], unique=False)
    op.create_index(op.f('ix_workorders_subject_uscc'), 'workorders', ['subject_uscc'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_workorders_subject_uscc'), table_name='workorders')
    op.drop_index(op.f('ix_workorders_region_code'), table_name='workorders')
    op.drop_table('workorders')
    op.drop_index(op.f('ix_transfers_case_id'), table_name='transfers')
    op.drop_table('transfers')
    op.drop_index(op.f('ix_timeline_uscc'), table_name='timeline')
    op.drop_index(op.f('ix_timeline_case_id'), table_name='timeline')
    op.drop_index(op.f('ix_timeline_at'), table_name='timeline')
    op.drop_table('timeline')
    op.drop_table('reference_sets')
    op.drop_table('projector_offsets')
    op.drop_index(op.f('ix_leads_subject_id'), table_name='leads')
    op.drop_index(op.f('ix_leads_rule_code'), table_name='leads')
    op.drop_index(op.f('ix_leads_region_code'), table_name='leads')
    op.drop_index('ix_leads_queue', table_name='leads')
    op.drop_index(op.f('ix_leads_grade'), table_name='leads')
    op.drop_index(op.f('ix_leads_detected_at'), table_name='leads')
    op.drop_index(op.f('ix_leads_change_seq'), table_name='leads')
    op.drop_index(op.f('ix_leads_agency_code'), table_name='leads')
    op.drop_table('leads')
    op.drop_index(op.f('ix_lead_history_lead_id'), table_name='lead_history')
    op.drop_table('lead_history')
    op.drop_index('ix_lead_evidence_position', table_name='lead_evidence')
    op.drop_table('lead_evidence')
    op.drop_table('lead_claims')
    op.drop_table('intake_ledger')
    op.drop_index(op.f('ix_inspections_target_uscc'), table_name='inspections')
    op.drop_index(op.f('ix_inspections_started_at'), table_name='inspections')
    op.drop_index(op.f('ix_inspections_region_code'), table_name='inspections')
    op.drop_index(op.f('ix_inspections_agency_code'), table_name='inspections')
    op.drop_table('inspections')
    op.drop_index(op.f('ix_credit_triggers_uscc'), table_name='credit_triggers')
    op.drop_index(op.f('ix_credit_triggers_detected_at'), table_name='credit_triggers')
    op.drop_index(op.f('ix_credit_triggers_decision_no'), table_name='credit_triggers')
    op.drop_index(op.f('ix_credit_triggers_code'), table_name='credit_triggers')
    op.drop_table('credit_triggers')
    op.drop_table('credit_states')
    op.drop_table('credit_repairs')
    op.drop_index(op.f('ix_credit_events_uscc'), table_name='credit_events')
    op.drop_index(op.f('ix_credit_events_decision_no'), table_name='credit_events')
    op.drop_table('credit_events')
    op.drop_table('clock_state')
    op.drop_index(op.f('ix_cases_region_code'), table_name='cases')
    op.drop_index(op.f('ix_cases_party_uscc'), table_name='cases')
    op.drop_index(op.f('ix_cases_decision_no'), table_name='cases')
    op.drop_index(op.f('ix_cases_decided_at'), table_name='cases')
    op.drop_index(op.f('ix_cases_agency_code'), table_name='cases')
    op.drop_table('cases')
    op.drop_table('api_keys')
