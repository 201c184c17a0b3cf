"""The heartbeat: what Rusta does between edits, within a budget, stopped by any keystroke.

    loop.py        Heartbeat: a thread that ticks, checks idleness and the CPU budget, runs the
                   next job (reflect → test → drill → train) with a cancel token, persists its state
    reflection.py  devlog + drills → per-error-code statistics, anchored principles, re-verification
                   of principles and exemplars (stale ones retire, logged as `self_diff`)
    mutations.py   seeded tree-sitter mutations of the user's code aimed at rustc error codes, and
                   code in progress (emptied bodies, unwritten functions, ...) where no fix is right
    drills.py      mutation → patch engine (in its own shadow slot) → outcome label; gap-tension
                   scheduling, mastery and retirement; one mutation in five held out
    training.py    nanoGPT-style calibration training of the MLP calibrator: held-out Brier/ECE,
                   swap only when a Wilson-bounded sign test says better, threshold for
                   `abstain.targetPrecision`; cuda, mps or cpu
    jobs.py        the four jobs bound to a workspace (`test` records the last green state through
                   patches.testing), and `calibrate` (drill labels → Calibrator)
    report.py      `rusta report`: JSON, or HTML with a learning curve and a reliability diagram;
                   fix rate and precision per error code and per edit kind

Invariants: the user's files are only read (mutations live in overlays of a shadow copy); every
job checks its cancel token between steps and cargo is killed on cancel; a failing job is
recorded, never fatal to the loop.
"""
