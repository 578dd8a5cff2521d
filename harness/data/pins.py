"""The embedded benchmark's identity: the sha256 (``harness.core.task.task_sha256``) of every default task, per profile.

These are the bytes every machine must generate (``tests/harness/data/test_same_everywhere.py`` generates them with
SIMD dispatch lowered; ``tests/harness/test_pinned.py`` natively). A change that moves one is a new benchmark: bump
the generator's version, update the hash here, retrain the committed judges (``python -m harness.run judges
retrain``) and regenerate the baselines and reference sets.
"""

DATA_SHA256: dict[str, dict[str, str]] = {
    "smoke": {
        "digits": "00948b5dec08c4c7ae418bd64a76d157e28058fd6e78688497bda51128e50f1e",
        "faces": "0516384743ef4a543eaf09d2f49ba7cbc9aa4c5c859ee0694ea217ee4fd6a591",
        "maps": "340436763c81210902dcd7f394b62566a0f920cc6e1e6879da255b7e29ddd7c9",
        "probe_geometry": "5681268d18702f44728de591475456aabee30630c6835d632e37528bc68d403a",
        "probe_texture": "57776cba4e0060353dde8aeb92c5e04b4eff4b6058ccc468bd3142e9bd02442d",
        "scenes": "13a7418f1622087ce910f11a29ef85e3a995b381fee6315c8a7d718dd50bc388",
        "sr": "edea625613d4d0818ad8adfe0a316e4638c5a46a3d597890eddedc4ff9128304",
    },
    "standard": {
        "digits": "3ee9d85084be1c6c61faa32bac00567e6bf9ade5c190294305db87c0eb8eeb29",
        "faces": "48f3e8235618e5583e66fe81066a57fac9dd1e7509fbdfcd4e93566ecf2e933b",
        "maps": "9ce41c2a799a52aaf5be26c7babe7c56f6a06b880b9442ede10ae2c5fa9162ef",
        "probe_geometry": "7d9ba343098a2d856205bd1006a9dfbcadd5228057d07efc36ad2bac21ac360c",
        "probe_texture": "3030826c779b42a61cfa465f264ab268ad46a75fa7dc57423993863037203e11",
        "scenes": "eb643927f2baadd6038251f2b7c650d1f9850ee51d6aeb765991692c6a6c42aa",
        "sr": "f76bac9ca7a39848b5fedada21f09480aee05e13b050bc2241a811dcc578d26d",
    },
}
