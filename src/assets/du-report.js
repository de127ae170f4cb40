(function(){
"use strict";
var data=JSON.parse(document.getElementById("data").textContent);
var repos=data.repos;
var NS="http://www.w3.org/2000/svg";
var COLS=[["repository","n",0],["tags","t",0],["tagged","mt",0],["untagged","mu",0],
["logical","l",1],["exclusive","e",1],["shared","s",1],["reclaim","r",1],["reclaim-m","rm",1],
["uploads","u",1]];
function human_bytes(b){var u=["B","KiB","MiB","GiB","TiB","PiB"],i=0;while(b>=1024&&i<u.length-1){b/=1024;i++;}
return (i?b.toFixed(1):String(b))+" "+u[i];}
function figures(r){return r.n+": exclusive "+human_bytes(r.e)+", logical "+human_bytes(r.l)+", shared "+human_bytes(r.s)+
", reclaimable "+human_bytes(r.r)+" ("+human_bytes(r.rm)+" with -m), uploads "+human_bytes(r.u)+", "+r.t+" tags";}
// The tree of name components; a repository that is also a namespace is a leaf among its children.
function tree(){var root={name:"",kids:{},repo:null};
repos.forEach(function(r){var node=root;r.n.split("/").forEach(function(c){
if(!Object.prototype.hasOwnProperty.call(node.kids,c))node.kids[c]={name:c,kids:{},repo:null};node=node.kids[c];});
node.repo=r;});return root;}
function nodes(node,key){var out=[];if(node.repo)out.push({leaf:node.repo,v:node.repo[key]});
Object.keys(node.kids).sort().forEach(function(k){var n=node.kids[k];var v=total(n,key);out.push({node:n,v:v});});
return out;}
function total(node,key){var v=node.repo?node.repo[key]:0;for(var k in node.kids)v+=total(node.kids[k],key);return v;}
function worst(row,w){var s=0,mx=0,mn=Infinity;row.forEach(function(x){s+=x.a;mx=Math.max(mx,x.a);mn=Math.min(mn,x.a);});
if(s===0)return Infinity;return Math.max(w*w*mx/(s*s),(s*s)/(w*w*mn));}
// Squarified layout of items (with areas a, largest first) in the rectangle r.
function squarify(items,r){var out=[];var x=r.x,y=r.y,w=r.w,h=r.h;var rest=items.slice();
while(rest.length){var side=Math.min(w,h);var row=[rest[0]];var i=1;
while(i<rest.length&&worst(row.concat([rest[i]]),side)<=worst(row,side)){row.push(rest[i]);i++;}
rest=rest.slice(i);var s=row.reduce(function(t,q){return t+q.a;},0);
if(w>=h){var cw=h>0?s/h:0;var cy=y;row.forEach(function(q){var ch=cw>0?q.a/cw:0;out.push({it:q,x:x,y:cy,w:cw,h:ch});cy+=ch;});x+=cw;w-=cw;}
else{var rh=w>0?s/w:0;var cx=x;row.forEach(function(q){var qw=rh>0?q.a/rh:0;out.push({it:q,x:cx,y:y,w:qw,h:rh});cx+=qw;});y+=rh;h-=rh;}}
return out;}
// The share of a cell gc would free, on a log scale: 0.1% already differs from none, and 1%,
// 10% and all are a third of the scale apart (a tree with little to reclaim is not one colour).
function scaled(f){f=Math.max(0,Math.min(1,f));return Math.log(1+999*f)/Math.log(1000);}
function colour(f){f=scaled(f);var a=[74,122,181],b=[232,197,71],c=[217,71,43];
var p=f<.5?a:b,q=f<.5?b:c,t=f<.5?f*2:(f-.5)*2;
return "rgb("+[0,1,2].map(function(i){return Math.round(p[i]+(q[i]-p[i])*t);}).join(",")+")";}
// The label a cell w by h has room for: its whole name at the largest size from 11px down to
// 7px that holds it (about 0.6em a character), else at 7px cut with an ellipsis; nothing when
// not even two characters fit.
function label_fit(name,w,h){var max=Math.min(11,Math.floor(h-2));if(max<7)return null;
for(var size=max;size>=7;size--){if(Math.floor((w-4)/(size*0.6))>=name.length)return {text:name,size:size};}
var fits=Math.floor((w-4)/(7*0.6));if(fits<2)return null;
return {text:name.slice(0,fits-1)+"\u2026",size:7};}
var svg=document.getElementById("map");var info=document.getElementById("info");
function el(name,attrs){var e=document.createElementNS(NS,name);for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}
function show(r){info.textContent=figures(r);}
function draw(){var key=document.getElementById("metric").value;while(svg.firstChild)svg.removeChild(svg.firstChild);
var W=svg.clientWidth||1000,H=svg.clientHeight||560;svg.setAttribute("viewBox","0 0 "+W+" "+H);
var frag=document.createDocumentFragment();
function place(node,r,depth){var items=nodes(node,key);var sum=items.reduce(function(t,q){return t+q.v;},0);
var area=r.w*r.h;items.forEach(function(q){q.a=sum>0?q.v*area/sum:0;});
items.sort(function(p,q){return q.a-p.a;});
var pos=items.filter(function(q){return q.a>0;}),zero=items.filter(function(q){return q.a<=0;});
squarify(pos,r).concat(zero.map(function(q){return {it:q,x:r.x,y:r.y,w:0,h:0};})).forEach(function(c){var q=c.it;
if(q.leaf){var rr=q.leaf;var rect=el("rect",{"class":"cell",x:c.x.toFixed(2),y:c.y.toFixed(2),width:c.w.toFixed(2),height:c.h.toFixed(2),
fill:colour(rr[key]>0?rr.r/rr[key]:0),tabindex:"0"});rect.setAttribute("data-repo",rr.n);
var t=el("title",{});t.textContent=figures(rr);rect.appendChild(t);
rect.addEventListener("mouseenter",function(){show(rr);});rect.addEventListener("focus",function(){show(rr);});frag.appendChild(rect);
rect.setAttribute("data-share",(rr[key]>0?rr.r/rr[key]:0).toFixed(6));
var name=label_fit(rr.n.split("/").pop(),c.w,c.h);
if(name){var tx=el("text",{"class":"cell-label",x:(c.x+2).toFixed(2),y:(c.y+name.size).toFixed(2),"font-size":String(name.size)});
tx.textContent=name.text;frag.appendChild(tx);rect.setAttribute("data-label",name.text);}}
else{var g=q.node;var pad=c.w>24&&c.h>24?2:0;var head=c.w>60&&c.h>40?14:0;
if(pad){frag.appendChild(el("rect",{"class":"group",x:c.x.toFixed(2),y:c.y.toFixed(2),width:c.w.toFixed(2),height:c.h.toFixed(2)}));}
if(head){var label=el("text",{x:(c.x+3).toFixed(2),y:(c.y+11).toFixed(2)});label.textContent=g.name+"/";frag.appendChild(label);}
place(g,{x:c.x+pad,y:c.y+pad+head,w:Math.max(0,c.w-2*pad),h:Math.max(0,c.h-2*pad-head)},depth+1);}});}
place(tree(),{x:0,y:0,w:W,h:H},0);svg.appendChild(frag);}
var order={col:"l",down:true};var job=0;
var at_once=location.hash==="#all";  // every row before the first paint (bench/html.sh)
function row(r){var tr=document.createElement("tr");
COLS.forEach(function(col){var td=document.createElement("td");var v=r[col[1]];td.textContent=col[2]?human_bytes(v):String(v);if(col[2])td.title=v+" bytes";tr.appendChild(td);});
return tr;}
// The rows in the sorted order, 500 at a time: the first at once, the rest while the page is
// already drawn and usable (10,000 rows at once would hold the first paint for seconds).
function fill(){var tb=document.getElementById("rows");var rows=repos.slice();var c=order.col;
rows.sort(function(a,b){var x=a[c],y=b[c];var d=typeof x==="string"?(x<y?-1:x>y?1:0):(x-y);if(d===0)d=a.n<b.n?-1:a.n>b.n?1:0;return order.down&&typeof x!=="string"?-d:d;});
while(tb.firstChild)tb.removeChild(tb.firstChild);document.body.removeAttribute("data-complete");
var mine=++job,i=0;
function chunk(){if(mine!==job)return;var frag=document.createDocumentFragment();
for(var n=0;(n<500||at_once)&&i<rows.length;n++,i++)frag.appendChild(row(rows[i]));tb.appendChild(frag);
if(i<rows.length){setTimeout(chunk,0);}else{document.body.setAttribute("data-complete","1");
document.body.setAttribute("data-complete-ms",String(Math.round(performance.now())));}}
chunk();
document.querySelectorAll("#table th").forEach(function(th){th.setAttribute("aria-sort",th.getAttribute("data-col")===c?(order.down?"descending":"ascending"):"none");});}
document.querySelectorAll("#table th").forEach(function(th){th.addEventListener("click",function(){var c=th.getAttribute("data-col");
order.down=order.col===c?!order.down:c!=="n";order.col=c;fill();});});
document.getElementById("metric").addEventListener("change",draw);
window.addEventListener("resize",draw);
draw();fill();
document.body.setAttribute("data-ready","1");
document.body.setAttribute("data-ready-ms",String(Math.round(performance.now())));
// After the first frame with everything laid out and painted (bench/html.sh reads it).
requestAnimationFrame(function(){setTimeout(function(){
document.body.setAttribute("data-painted-ms",String(Math.round(performance.now())));},0);});
})();
