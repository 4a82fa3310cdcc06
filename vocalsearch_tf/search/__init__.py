"""Search your own sounds by vocal imitation: a library index (`index`), the models it
can use (`models`), queries (`engine`), the `vocalsearch` command line (`cli`) and a Gradio
page (`app`, needs the `app` extra)."""
