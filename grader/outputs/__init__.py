"""Pure renderers of typed results: terminal and Markdown, JUnit, CSV exports, LMS imports, HTML reports and charts."""
