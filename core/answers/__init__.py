"""Writing the answer to a question from the passages retrieved for it: what an answer is
(`model`), which passages are worth citing (`sources`), whether the material covers the
question at all (`coverage`), the extractive answer (`extractive`), the optional language
model's answer (`generate`) and the check of its citations (`verify`)."""
