"""Every KPI's definition in words: the ops API's docs and the dashboard's hover text say the
same (the maths is in ``domain.funnel``, ``domain.kpis``, ``domain.retention``, ``domain.lift``)."""

from __future__ import annotations

KPI_DEFINITIONS: dict[str, str] = {
    "entered": "Moves into the stage inside the window (a subject re-entering counts again).",
    "in_stage": "Subjects whose latest move at or before the end of the window put them there.",
    "conversion": "Of the subjects that entered the stage inside the window, the share that "
    "reached the next funnel stage or any later one by the end of the window.",
    "median_days_in_stage": "Median length of the stays in the stage that ended inside the window.",
    "p90_days_in_stage": "90th percentile of those stays (interpolated between stays).",
    "velocity": "Forward moves per day in the window; per stage, the median days from a "
    "subject's first known move to its first entry into that stage.",
    "open_pipeline": "Deals created and not closed by the end of the window (a close followed by "
    "a stage change re-opens a deal), at their latest amount, per deal stage and currency.",
    "weighted_pipeline": "Open pipeline times each deal stage's win probability "
    "(stage_probability; a stage not listed weighs 0).",
    "win_rate": "Of the deals whose last close falls inside the window, the share closed won "
    "(a deal lost, re-opened and won counts once, as won).",
    "median_sales_cycle_days": "Median days from deal_created to that last close.",
    "churn_rate": "Accounts that were customers at the start of the window (a won deal, no "
    "cancellation since) and cancelled inside it, over the customers at the start.",
    "nrr": "Net revenue retention per currency: revenue at the end of the window over revenue "
    "at its start, of the customers at its start (new customers excluded). An account's revenue "
    "is its won deal amounts scaled by seats now over seats at its first win; 0 once cancelled.",
    "nps": "Net promoter score: % of answers 9-10 minus % of answers 0-6, each contact's latest "
    "answer inside the window; per stage (the contact's stage when answering) and per account.",
    "cltv": "Customer lifetime value per currency: average revenue per customer account at the "
    "end of the window, prorated to the window's length, times the gross margin, over the churn "
    "rate of the window. No figure when nobody churned.",
    "lift": "Per sequence: of the contacts who entered a stage it serves (for their role) inside "
    "the window, treated or held out by the plan's holdout (a hash of contact or account and "
    "sequence), the share reaching a later stage (or the goal stage) within the lift window; "
    "treated minus held out, with a 95% interval (two proportions). Below min_sample people in "
    "either arm: no figure, only the counts.",
}
