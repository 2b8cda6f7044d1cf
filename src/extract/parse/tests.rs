use super::*;
use crate::extract::dom::{Data, ROOT};

fn parse(html: &str) -> Dom {
    parse_document(html, &Entities::new())
}

fn shape(dom: &Dom, i: usize) -> String {
    let mut out = String::new();
    match &dom.nodes[i].data {
        Data::Text(t) => out.push_str(t),
        Data::Element(e) => {
            out.push('<');
            out.push_str(&e.tag);
            out.push('>');
            for &c in &dom.nodes[i].children {
                out.push_str(&shape(dom, c));
            }
            out.push_str("</");
            out.push_str(&e.tag);
            out.push('>');
        }
        Data::Document => {
            for &c in &dom.nodes[i].children {
                out.push_str(&shape(dom, c));
            }
        }
    }
    out
}

fn body_shape(html: &str) -> String {
    let dom = parse(html);
    let body = dom.by_tag("body").next().expect("a body");
    shape(&dom, body)
}

#[test]
fn implied_end_tags_follow_the_standard() {
    assert_eq!(
        body_shape("<p>one<p>two<div>three</div><ul><li>a<li>b</ul>"),
        "<body><p>one</p><p>two</p><div>three</div><ul><li>a</li><li>b</li></ul></body>"
    );
    assert_eq!(
        body_shape("<h1>x<h2>y</h1>z"),
        "<body><h1>x</h1><h2>y</h2>z</body>"
    );
    assert_eq!(
        body_shape("<div><span>a</div>b"),
        "<body><div><span>a</span></div>b</body>"
    );
    assert_eq!(body_shape("a</p>b"), "<body>a<p></p>b</body>");
    assert_eq!(
        body_shape("<a href=1>x<a href=2>y</a>"),
        "<body><a>x</a><a>y</a></body>"
    );
}

#[test]
fn tables_get_their_implied_rows() {
    assert_eq!(
        body_shape("<table><tr><td>a<td>b<tr><td>c</table>d"),
        "<body><table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></tbody></table>d</body>"
    );
    assert_eq!(
        body_shape("<table><td>x</table>"),
        "<body><table><tbody><tr><td>x</td></tr></tbody></table></body>"
    );
}

#[test]
fn raw_text_scripts_and_head_are_handled() {
    let dom = parse(
        "<!DOCTYPE html><html><head><title>T &amp; U</title><meta name=a content=b>\
         <script>if (a<b) document.write('<p>no</p>')</script>\
         <script type=\"application/ld+json\">{\"x\":1}</script></head>\
         <body><style>p{}</style><p>yes&nbsp;&#x4e2d;&copy&lt;</p></body></html>",
    );
    assert_eq!(dom.title, "T & U");
    assert_eq!(dom.json_ld, vec!["{\"x\":1}".to_string()]);
    let body = dom.by_tag("body").next().unwrap();
    assert_eq!(
        dom.text_of(body),
        "yes\u{a0}中©<".replace('\u{a0}', " ").trim()
    );
    assert_eq!(dom.by_tag("meta").count(), 1);
    let head = dom.by_tag("head").next().unwrap();
    assert!(dom.contains(head, dom.by_tag("meta").next().unwrap()));
}

#[test]
fn attributes_are_unescaped_but_urls_keep_their_params() {
    let dom = parse("<a href='/x?a=1&copy=2&amp;b=3' CLASS=\"Foo\">l</a>");
    let a = dom.by_tag("a").next().unwrap();
    let e = dom.elem(a).unwrap();
    assert_eq!(e.attr("href"), Some("/x?a=1&copy=2&b=3"));
    assert_eq!(dom.nodes[a].class_id, "foo ");
}

/// The arena html5ever (through scraper) gives for the same page.
fn html5ever_dom(html: &str) -> Dom {
    Dom::from_html(&scraper::Html::parse_document(html), None, None)
}

#[test]
fn agrees_with_html5ever_on_the_fixture_pages() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/extract");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (html, _) = crate::charset::decode(&bytes, None);
        let ours = parse(&html);
        let theirs = html5ever_dom(&html);
        assert_eq!(
            shape(&ours, ROOT),
            shape(&theirs, ROOT),
            "{}",
            path.display()
        );
        assert_eq!(ours.title, theirs.title);
        assert_eq!(ours.json_ld, theirs.json_ld);
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn agrees_with_html5ever_on_sloppy_markup() {
    for html in [
        "<html><head><title>t</title></head><body><p>a<p>b<div>c</div><ul><li>x<li>y</ul></body></html>",
        "<table><tr><td>a<td>b</table><p>after",
        "<div><span>a</div>b</span>c",
        "<h1>x<h2>y</h1>z",
        "text before<html><body>in body</body></html>after",
        "<p>one</p></div><p>two&amp;three &copy 2024 &#169; &#x4e2d;</p>",
        "<dl><dt>a<dd>b<dt>c</dl>",
        "<pre>\nkeep</pre><br/><hr><img src=a.png alt='&lt;x&gt;'>",
        "<div class=a id=B style='display: none'>hidden</div><div hidden>h</div><p>shown</p>",
    ] {
        assert_eq!(
            shape(&parse(html), ROOT),
            shape(&html5ever_dom(html), ROOT),
            "{html}"
        );
    }
}

#[test]
fn random_markup_soup_does_not_panic() {
    // A deterministic generator over the pieces that stress the
    // tokenizer: multi-byte text next to every kind of `<` and `&`.
    let pieces = [
        "<",
        ">",
        "</",
        "<!",
        "<!--",
        "-->",
        "<!doctype",
        "<?",
        "&",
        "&#",
        "&#x",
        "&amp",
        ";",
        "\"",
        "'",
        "=",
        "/",
        " ",
        "\r",
        "\n",
        "\0",
        "中",
        "é",
        "😀",
        "p",
        "div",
        "table",
        "td",
        "tr",
        "script",
        "style",
        "title",
        "svg",
        "math",
        "a",
        "li",
        "pre",
        "body",
        "head",
        "html",
        "noscript",
        "textarea",
        "plaintext",
        "image",
        "br",
        "class",
    ];
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    for _ in 0..3000 {
        let mut doc = String::new();
        for _ in 0..40 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            doc.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        let dom = parse(&doc);
        // Document order: every child after its parent, inside its subtree.
        for (i, n) in dom.nodes.iter().enumerate().skip(1) {
            assert!(n.parent < i && dom.contains(n.parent, i), "{doc:?}");
        }
    }
}

#[test]
fn truncated_and_odd_input_does_not_panic() {
    for s in [
        "<",
        "<a",
        "<a href='x",
        "</",
        "</a",
        "<!--",
        "<!",
        "&#",
        "&#x;",
        "&",
        "<p>&#99999999999;",
        "<svg><path/><p>x</svg>",
        "<table><div>x</div></table>",
        "<pre>\n\nx</pre>",
        "<title>x",
        "<script>x",
        "\r\n<p>a\rb</p>",
    ] {
        let _ = parse(s);
    }
}

/// Our tree and html5ever's agree, element for element and text for text.
fn assert_same_as_html5ever(cases: &[&str]) {
    for html in cases {
        assert_eq!(
            shape(&parse(html), ROOT),
            shape(&html5ever_dom(html), ROOT),
            "{html}"
        );
    }
}

#[test]
fn misnested_formatting_is_adopted_as_in_a_browser() {
    assert_same_as_html5ever(&[
        // The adoption agency: a `</b>` across a block.
        "<p><b>bold<p>still bold</b> plain</p>",
        "<b>1<p>2</b>3</p>",
        "<a href=x>1<div>2</a>3</div>",
        "<font color=red><p>a<p>b</font>c",
        // Reconstruction after a block closed the formatting element.
        "<p><i>one</p>two",
        "<div><b>x</div>y",
        // A new `<a>` while one is open; the Noah's Ark clause.
        "<a href=1>x<p>y<a href=2>z</a>",
        "<b><b><b><b><b>deep</b></b></b></b></b>tail<p>x",
        "<b class=a><b class=a><b class=a><b class=a><p>p</b>q",
        // The inner loop past three nodes.
        "<a><b><i><u><s><div>text</a>after",
        "<table><tr><td><b>in cell</td><td>next</b></td></tr></table>after",
    ]);
}

#[test]
fn stray_table_content_is_foster_parented() {
    assert_same_as_html5ever(&[
        "<table>before<tr><td>cell</td></tr>after</table>",
        "<table><b>bold<tr><td>cell</td></tr></table>",
        "<table><tr><p>para</p><td>cell</td></tr></table>",
        "<table><tr><td>a</td></tr><div>div</div></table>",
        "<b><table><td>cell</b>x</td></table>y",
        "<table><caption>cap<b>b</caption>x</table>",
        "<table><colgroup><col>text</table>",
        "<table><tbody>t<tr>r<td>d</table>",
        "<p>a<table><tr><td>b</table>c",
        "<!doctype html><p>a<table><tr><td>b</table>c",
        "<table><tr><td><table><tr><td>inner</td></tr>stray</table></td></tr></table>",
        "<table><a href=x>link<tr><td>cell</a>text</table>",
    ]);
}

#[test]
fn html_in_svg_and_math_integration_points_stays_inside_them() {
    // `foreignObject`, `desc`, `title`, MathML text elements and HTML
    // `annotation-xml` read HTML as HTML but keep it inside: it is dropped
    // with the `<svg>` instead of breaking out as page text.
    assert_eq!(
        body_shape("<div><svg><path><foreignObject><p></div>a"),
        "<body><div></div></body>"
    );
    assert_eq!(body_shape("<svg><desc><div><svg><ul>a"), "<body></body>");
    assert_eq!(
        body_shape("<table><tr><td><svg><foreignObject><p><i></p>a"),
        "<body><table><tbody><tr><td></td></tr></tbody></table></body>"
    );
    assert_eq!(
        body_shape(
            "<svg><foreignObject><div>foo</div><plaintext></foreignObject></svg><div>bar</div>"
        ),
        "<body></body>"
    );
    assert_eq!(
        body_shape(
            "<p>foo<math><mtext><i>baz</i></mtext><annotation-xml><svg><desc><b>eggs</b></desc></svg></annotation-xml></math>bar"
        ),
        "<body><p>foo<math><mtext><i>baz</i></mtext><annotation-xml></annotation-xml></math>bar</p></body>"
    );
    // A breakout tag still leaves foreign content that is no integration
    // point, and an HTML `annotation-xml` keeps its `<div>`.
    assert_eq!(body_shape("<svg><g><p>x"), "<body><p>x</p></body>");
    assert_eq!(
        body_shape(
            "<math><annotation-xml encoding=\"text/html\"><div>x</div></annotation-xml></math>y"
        ),
        "<body><math><annotation-xml><div>x</div></annotation-xml></math>y</body>"
    );
    assert_eq!(
        body_shape("<math><annotation-xml><div>x</div></annotation-xml></math>y"),
        "<body><math><annotation-xml></annotation-xml></math><div>x</div>y</body>"
    );
}

#[test]
fn a_frameset_before_the_body_makes_a_frames_document_without_text() {
    for html in [
        "<!DOCTYPE html><frameset>test",
        "<frameset></frameset>\nfoo",
        "<!doctype html><frameset></frameset></html><plaintext>x</plaintext>",
        "<html><head></head><frameset><frame src=a><p>text</p></frameset>tail",
    ] {
        let dom = parse(html);
        assert_eq!(dom.by_tag("body").count(), 0, "{html}");
        assert!(!shape(&dom, ROOT).contains("text"), "{html}");
        assert!(
            !shape(&dom, ROOT).contains("foo") && !shape(&dom, ROOT).contains("tail"),
            "{html}"
        );
    }
    assert_eq!(
        shape(
            &parse(
                "<frameset><frameset><frame></frameset></frameset><noframes>no frames</noframes>x"
            ),
            ROOT
        ),
        "<html><head></head><frameset><frameset><frame></frame></frameset></frameset><noframes>no frames</noframes></html>"
    );
    // After text or an element in the body, `<frameset>` is ignored.
    assert_eq!(body_shape("<p>a</p><frameset>b"), "<body><p>a</p>b</body>");
}

#[test]
fn ruby_parts_close_the_open_ones_before_them() {
    assert_eq!(
        body_shape("<ruby>a<rb>b<rt>c<rp>d<rtc>e<rt>f<rp>g<rb>h</ruby>"),
        "<body><ruby>a<rb>b</rb><rt>c</rt><rp>d</rp><rtc>e<rt>f</rt><rp>g</rp></rtc><rb>h</rb></ruby></body>"
    );
    // Outside a ruby they are ordinary elements that nest.
    assert_eq!(
        body_shape("<div><rt>a<rt>b</div>"),
        "<body><div><rt>a<rt>b</rt></rt></div></body>"
    );
}

#[test]
fn a_select_is_closed_by_a_second_select_or_a_text_control() {
    // The select is dropped from the arena; what follows it must not be.
    assert_eq!(body_shape("<select><select>X"), "<body>X</body>");
    assert_eq!(body_shape("<select><option>a<input>X"), "<body>X</body>");
    assert_eq!(
        body_shape("<p><select><option>a<textarea>t</textarea>b"),
        "<body><p>b</p></body>"
    );
}

#[test]
fn nul_in_raw_text_becomes_the_replacement_character() {
    assert_eq!(
        body_shape("<plaintext>\0filler\0text"),
        "<body><plaintext>\u{FFFD}filler\u{FFFD}text</plaintext></body>"
    );
    // In body text a NUL is dropped.
    assert_eq!(body_shape("<p>a\0b"), "<body><p>ab</p></body>");
}

#[test]
fn cdata_in_math_is_text_and_in_html_a_comment() {
    assert_eq!(
        body_shape("<math><mi>x</mi><![CDATA[a<b>c]]></math>d"),
        "<body><math><mi>x</mi>a<b>c</math>d</body>"
    );
    assert_eq!(body_shape("<p><![CDATA[a]]>b"), "<body><p>b</p></body>");
    assert_eq!(
        body_shape("<math><![CDATA[open"),
        "<body><math>open</math></body>"
    );
}

#[test]
fn template_contents_stay_in_the_template_until_it_closes() {
    // Table parts, tables and plaintext in a template do not open the body.
    assert_eq!(
        body_shape("<!DOCTYPE HTML><template><tr><td>cell</td></tr>a</template>"),
        "<body></body>"
    );
    assert_eq!(
        body_shape("<template><template><table>Foo"),
        "<body></body>"
    );
    assert_eq!(
        body_shape("<!doctype html><template><plaintext>a</template>b"),
        "<body></body>"
    );
    // `</template>` closes it whatever is open inside (an `<object>` too),
    // and a formatting element in it does not leak out.
    assert_eq!(
        body_shape("<template><object></template><body><span>Foo"),
        "<body><span>Foo</span></body>"
    );
    assert_eq!(
        body_shape("<p><template><b>x</template>y"),
        "<body><p>y</p></body>"
    );
}

#[test]
fn end_p_and_br_leave_foreign_content() {
    assert_eq!(body_shape("<svg><g></p>x"), "<body><p></p>x</body>");
    assert_eq!(
        body_shape("<math><mrow></br>x"),
        "<body><math><mrow></mrow></math><br></br>x</body>"
    );
}
