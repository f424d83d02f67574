"""Reading the question: instructions cut out, follow-ups made standalone, names, intent."""
