"""12345 hotline tickets: consultations, complaints, suggestions and reports of city problems,
linked to the resident, with their status history and the caller's satisfaction rating."""
