"""Music beyond tokens: features and next-token baselines of melodies (:mod:`~vaelab.music.melody`),
voice-leading scores and the baseline of four-part harmony (:mod:`~vaelab.music.harmony`), and
harmonizing a whole melody with a trained harmonizer (:mod:`~vaelab.music.accompaniment`).
Pure numpy apart from the model calls of ``accompaniment``; music21 and mido are never imported here.
"""
