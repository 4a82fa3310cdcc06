"""Model builders: architectures as data tables, small functional builders."""
