"""The questionnaire frameworks, loaded from `assessments/*.yaml`."""
